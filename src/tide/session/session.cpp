#include "tide/session/session.hpp"

#include <chrono>
#include <csignal>

#include <fmt/format.h>

namespace tide {
namespace {

std::atomic<int> g_signal{0};

extern "C" void on_termination_signal(int signal) {
  g_signal.store(signal);
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

Session::Session(const Communicator& comm, TrainingState state, int64_t steps_per_epoch,
                 int64_t batches_per_step, std::function<void(int64_t, int64_t)> start_epoch)
    : comm_(comm),
      state_(state),
      steps_per_epoch_(steps_per_epoch),
      batches_per_step_(batches_per_step),
      start_epoch_(std::move(start_epoch)) {
  TIDE_CHECK(steps_per_epoch > 0 && batches_per_step > 0,
             "session: {} steps an epoch of {} batches each: nothing to run", steps_per_epoch,
             batches_per_step);
}

void Session::add_hook(std::shared_ptr<Hook> hook) {
  hooks_.push_back(std::move(hook));
}

void Session::request_stop(const std::string& reason) {
  if (stop_reason_.empty()) stop_reason_ = reason.empty() ? "stop requested" : reason;
}

double Session::elapsed() const {
  return now_s() - start_s_;
}

void Session::catch_termination_signals() {
  static const bool installed = [] {
    std::signal(SIGTERM, on_termination_signal);
    std::signal(SIGINT, on_termination_signal);
    return true;
  }();
  (void)installed;
}

int Session::termination_signal() {
  return g_signal.load();
}

void Session::agree_on_stop() {
  const int signal = g_signal.load();
  if (signal != 0)
    request_stop(fmt::format("{} received", signal == SIGTERM ? "SIGTERM" : "SIGINT"));
  if (comm_.size() == 1) return;
  // [a stop on this rank, a signal on this rank]: the maximum over the ranks.
  Tensor flags = Tensor::from<int64_t>({2}, {stop_requested() ? 1 : 0, signal});
  comm_.allreduce(flags, ReduceOp::max,
                  fmt::format("the stop agreement after step {}", state_.step));
  const int64_t* f = flags.data<int64_t>();
  if (f[1] != 0 && signal == 0) {
    g_signal.store(static_cast<int>(f[1]));
    request_stop(
        fmt::format("{} received by another rank", f[1] == SIGTERM ? "SIGTERM" : "SIGINT"));
  }
  if (f[0] != 0) request_stop("another rank requested a stop");
}

void Session::run(const std::function<StepResult(Session&)>& step) {
  start_s_ = now_s();
  for (auto& h : hooks_) h->begin(*this);
  if (!stop_requested()) start_epoch_(state_.epoch, state_.batch);
  while (!stop_requested()) {
    for (auto& h : hooks_) h->before_step(*this);
    if (stop_requested()) break;
    const StepResult result = step(*this);
    ++state_.step;
    state_.batch += batches_per_step_;
    const bool epoch_done = state_.batch >= steps_per_epoch_ * batches_per_step_;
    if (epoch_done) {  // the state a checkpoint saves from here on starts the next epoch
      ++state_.epoch;
      state_.batch = 0;
    }
    for (auto& h : hooks_) h->after_step(*this, result);
    if (epoch_done)
      for (auto& h : hooks_) h->end_epoch(*this);
    agree_on_stop();
    if (epoch_done && !stop_requested()) start_epoch_(state_.epoch, 0);
  }
  for (auto& h : hooks_) h->end(*this);
}

}  // namespace tide
