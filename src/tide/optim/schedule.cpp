#include "tide/optim/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "tide/core/error.hpp"

namespace tide {

std::string_view schedule_names() {
  return "constant, cosine";
}

void validate(const ScheduleOptions& o) {
  TIDE_CHECK(o.kind == "constant" || o.kind == "cosine",
             "--lr-schedule: unknown schedule '{}'; known schedules: {}", o.kind, schedule_names());
  TIDE_CHECK(o.warmup_steps >= 0, "--warmup-steps must be >= 0, got {}", o.warmup_steps);
  TIDE_CHECK(o.min_lr >= 0, "--min-lr must be >= 0, got {}", o.min_lr);
}

LrSchedule::LrSchedule(double base_lr, int64_t total_steps, ScheduleOptions options)
    : base_lr_(base_lr), total_steps_(total_steps), options_(std::move(options)) {
  validate(options_);
  cosine_ = options_.kind == "cosine";
}

double LrSchedule::at(int64_t step) const {
  const int64_t warmup = options_.warmup_steps;
  if (step < warmup) return base_lr_ * static_cast<double>(step + 1) / static_cast<double>(warmup);
  if (!cosine_) return base_lr_;
  // Cosine over the steps after warm-up; the last step runs at min_lr.
  const int64_t span = std::max<int64_t>(total_steps_ - warmup - 1, 1);
  const double t = std::min(1.0, static_cast<double>(step - warmup) / static_cast<double>(span));
  return options_.min_lr +
         (base_lr_ - options_.min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * t));
}

}  // namespace tide
