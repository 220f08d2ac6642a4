#include "tide/session/session.hpp"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <csignal>

#include <fmt/format.h>

#include "tide/core/log.hpp"
#include "tide/core/trace.hpp"
#include "tide/kernels/parallel.hpp"

namespace tide {
namespace {

std::atomic<int> g_signal{0};

extern "C" void on_termination_signal(int signal) {
  g_signal.store(signal);
}

sigset_t termination_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

// The compute threads block the termination signals, so one sent meanwhile waits, pending
// on the process or on the thread it was raised on: takes it.
int poll_signal() {
  const sigset_t set = termination_set();
  const timespec now{0, 0};
  for (int s; (s = sigtimedwait(&set, nullptr, &now)) > 0;) g_signal.store(s);
  return g_signal.load();
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

// No handler runs on a compute thread: oneDNN 2.6's generated f32 GEMM kernels point the
// stack pointer into the heap while they run (oneDNN issue 4845, fixed in 3.11), and a
// handler's frame would be written there, over a tensor or malloc's bookkeeping. So this
// thread and OpenMP's block the signals, which wait until poll_signal() takes them at a step
// boundary. The handler is for threads that were started earlier and left them open (MPI's,
// a reducer's); none of those runs GEMMs.
void Session::catch_termination_signals() {
  static const bool installed = [] {
    struct sigaction action {};
    action.sa_handler = on_termination_signal;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
    return true;
  }();
  (void)installed;
  // On every call: a later run may loop on another thread, with a team of its own.
  const sigset_t set = termination_set();
  const int blocked = on_every_thread([&set] { pthread_sigmask(SIG_BLOCK, &set, nullptr); });
  if (blocked < num_threads())
    log_warn("the termination signals are blocked on {} of {} compute threads", blocked,
             num_threads());
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // this thread, whatever OpenMP's team was
}

int Session::termination_signal() {
  return g_signal.load();
}

namespace {

const char* signal_name(int64_t signal) {
  return signal == SIGTERM ? "SIGTERM" : "SIGINT";
}

}  // namespace

void Session::stop_for_signal(int signal, bool here) {
  if (!here) g_signal.store(signal);
  request_stop(fmt::format("{} received{}", signal_name(signal), here ? "" : " by another rank"));
}

void Session::agree_on_step(StepResult& mine) {
  const int signal = poll_signal();
  const int ranks = comm_.size();
  step_results_.assign(static_cast<size_t>(ranks), mine);
  if (ranks == 1) {
    if (signal != 0) stop_for_signal(signal, true);
    return;
  }
  // Per rank: loss, examples, correct, a non-finite loss, a signal.
  constexpr int64_t kFields = 5;
  const Tensor local = Tensor::from<double>(
      {kFields}, {mine.loss, static_cast<double>(mine.examples), static_cast<double>(mine.correct),
                  mine.skipped ? 1.0 : 0.0, static_cast<double>(signal)});
  const Tensor all =
      comm_.allgather(local, fmt::format("the control collective of step {}", state_.step + 1));
  const double* f = all.data<double>();
  bool skip = false;
  int other_signal = 0;
  for (int r = 0; r < ranks; ++r, f += kFields) {
    StepResult& sr = step_results_[static_cast<size_t>(r)];
    sr.loss = f[0];
    sr.examples = static_cast<int64_t>(f[1]);
    sr.correct = static_cast<int64_t>(f[2]);
    skip = skip || f[3] != 0;
    if (f[4] != 0 && other_signal == 0) other_signal = static_cast<int>(f[4]);
  }
  mine.skipped = skip;
  for (StepResult& sr : step_results_) sr.skipped = skip;
  if (signal != 0)
    stop_for_signal(signal, true);
  else if (other_signal != 0)
    stop_for_signal(other_signal, false);
}

void Session::agree_on_signal() {
  const int signal = poll_signal();
  if (comm_.size() == 1) return;
  Tensor flag = Tensor::from<int64_t>({1}, {signal});
  comm_.allreduce(flag, ReduceOp::max, "the signal check at the end of the run");
  const int64_t any = flag.data<int64_t>()[0];
  if (any != 0 && signal == 0) stop_for_signal(static_cast<int>(any), false);
}

void Session::report_evaluation(const EpochRecord& record) {
  evaluations_.push_back(record);
  for (auto& h : hooks_) h->after_evaluation(*this, record);
}

void Session::run(const Compute& compute, const Apply& apply) {
  start_s_ = now_s();
  trace::name_thread("loop");
  trace::set_step(0);  // the trace's steps are the loop's, from 1: begin and end lie outside
  for (auto& h : hooks_) h->begin(*this);
  if (!stop_requested()) start_epoch_(state_.epoch, state_.batch);
  double boundary = now_s();
  while (!stop_requested()) {
    // The step about to run is state_.step + 1 (from 1); the trace files spans under it.
    const int64_t step = state_.step + 1;
    trace::set_step(step);
    const double traced_from = trace::recording() ? trace::now_us() : -1;
    for (auto& h : hooks_) h->before_step(*this);
    if (stop_requested()) break;
    StepResult result = compute(*this);
    const double computed = now_s();
    {
      const TraceSpan span("control", "communication");
      agree_on_step(result);
    }
    if (stop_requested()) break;  // a signal: this step is not applied
    const double agreed = now_s();
    {
      const TraceSpan span("apply");
      apply(*this, result);
    }
    const double applied = now_s();
    result.timing.control = agreed - computed;
    result.timing.apply = applied - agreed;
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
    // One rank has no one to agree with: a signal stops it after this step.
    if (comm_.size() == 1 && poll_signal() != 0 && !stop_requested())
      stop_for_signal(g_signal.load(), true);
    if (epoch_done && !stop_requested()) start_epoch_(state_.epoch, 0);
    const double next = now_s();
    if (traced_from >= 0) trace::record("step", "step", step, traced_from, trace::now_us());
    result.timing.step = next - boundary;
    boundary = next;
    if (timings_.size() < kMaxTimings) timings_.push_back(result.timing);
  }
  trace::set_step(0);
  agree_on_signal();
  for (auto& h : hooks_) h->end(*this);
}

StepTiming median_timing(const std::vector<StepTiming>& timings, size_t skip) {
  StepTiming m;
  if (skip >= timings.size()) return m;
  std::vector<double> v(timings.size() - skip);
  auto median = [&](double StepTiming::*field) {
    for (size_t i = skip; i < timings.size(); ++i) v[i - skip] = timings[i].*field;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
    return v[v.size() / 2];
  };
  for (double StepTiming::*field :
       {&StepTiming::forward, &StepTiming::backward, &StepTiming::reduce, &StepTiming::control,
        &StepTiming::apply, &StepTiming::step})
    m.*field = median(field);
  return m;
}

void StepSums::add(const std::vector<StepResult>& ranks) {
  if (ranks_.size() < ranks.size()) ranks_.resize(ranks.size());
  for (size_t r = 0; r < ranks.size(); ++r) {
    Sums& s = ranks_[r];
    s.loss += ranks[r].loss;
    s.steps += 1;
    s.correct += static_cast<double>(ranks[r].correct);
    s.examples += static_cast<double>(ranks[r].examples);
  }
}

StepSums::Sums StepSums::total() const {
  Sums t;
  for (const Sums& s : ranks_) {
    t.loss += s.loss;
    t.steps += s.steps;
    t.correct += s.correct;
    t.examples += s.examples;
  }
  return t;
}

double StepSums::mean_loss() const {
  const Sums t = total();
  return t.steps > 0 ? t.loss / t.steps : 0.0;
}

double StepSums::accuracy() const {
  const Sums t = total();
  return t.examples > 0 ? t.correct / t.examples : 0.0;
}

double StepSums::examples() const {
  return total().examples;
}

double StepSums::steps() const {
  return total().steps;
}

double StepSums::mean_loss_of(int rank) const {
  if (static_cast<size_t>(rank) >= ranks_.size() || ranks_[static_cast<size_t>(rank)].steps == 0)
    return 0.0;
  const Sums& s = ranks_[static_cast<size_t>(rank)];
  return s.loss / s.steps;
}

double StepSums::examples_of(int rank) const {
  return static_cast<size_t>(rank) < ranks_.size() ? ranks_[static_cast<size_t>(rank)].examples
                                                   : 0.0;
}

}  // namespace tide
