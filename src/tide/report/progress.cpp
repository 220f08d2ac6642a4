#include "tide/report/progress.hpp"

#include <unistd.h>

#include <fmt/format.h>

namespace tide {
namespace {

std::string clock_time(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                   : fmt::format("{}:{:02}", s / 60, s % 60);
}

}  // namespace

Progress::Progress(std::FILE* out, int64_t total_steps, int64_t every, int64_t first_step)
    : out_(out),
      total_steps_(total_steps),
      first_step_(first_step),
      every_(every),
      tty_(out != nullptr && isatty(fileno(out)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void Progress::update(int64_t step, int64_t epoch, double loss, double samples_per_sec) {
  if (out_ == nullptr) return;
  const auto now = std::chrono::steady_clock::now();
  if (tty_ ? now - last_draw_ < std::chrono::milliseconds(250) && step != total_steps_
           : step % every_ != 0)
    return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double eta = step > first_step_ ? elapsed / static_cast<double>(step - first_step_) *
                                              static_cast<double>(total_steps_ - step)
                                        : 0.0;
  const std::string line =
      fmt::format("epoch {} step {}/{} loss {:.4f} {:.0f} samples/s ETA {}", epoch + 1, step,
                  total_steps_, loss, samples_per_sec, clock_time(eta));
  if (tty_) {
    fmt::print(out_, "\r{:<78}", line);
    dirty_ = true;
  } else {
    fmt::print(out_, "{}\n", line);
  }
  std::fflush(out_);
}

void Progress::finish_line() {
  if (dirty_) fmt::print(out_, "\n");
  dirty_ = false;
}

}  // namespace tide
