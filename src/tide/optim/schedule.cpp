#include "tide/optim/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "tide/core/error.hpp"

namespace tide {

std::string_view schedule_names() {
  return "constant, cosine, step, multistep, exponential, polynomial, plateau";
}

void validate(const ScheduleOptions& o) {
  const std::string& k = o.kind;
  TIDE_CHECK(k == "constant" || k == "cosine" || k == "step" || k == "multistep" ||
                 k == "exponential" || k == "polynomial" || k == "plateau",
             "--lr-schedule: unknown schedule '{}'; known schedules: {}", k, schedule_names());
  TIDE_CHECK(o.warmup_steps >= 0, "--warmup-steps must be >= 0, got {}", o.warmup_steps);
  TIDE_CHECK(o.min_lr >= 0, "--min-lr must be >= 0, got {}", o.min_lr);
  TIDE_CHECK(o.step_size > 0, "--lr-step-size must be positive, got {}", o.step_size);
  TIDE_CHECK(o.gamma > 0 && o.gamma <= 1, "--lr-gamma must be in (0, 1], got {}", o.gamma);
  TIDE_CHECK(o.power > 0, "--lr-power must be positive, got {}", o.power);
  TIDE_CHECK(o.patience >= 0, "--lr-patience must be >= 0, got {}", o.patience);
  TIDE_CHECK(o.threshold >= 0 && o.threshold < 1, "--lr-threshold must be in [0, 1), got {}",
             o.threshold);
  TIDE_CHECK(k != "multistep" || !o.milestones.empty(),
             "--lr-schedule multistep needs --lr-milestones (steps after warm-up, e.g. 1000,2000)");
  for (size_t i = 0; i < o.milestones.size(); ++i)
    TIDE_CHECK(o.milestones[i] > 0 && (i == 0 || o.milestones[i] > o.milestones[i - 1]),
               "--lr-milestones must be positive and increasing, got {} after {}", o.milestones[i],
               i == 0 ? 0 : o.milestones[i - 1]);
}

LrSchedule::LrSchedule(double base_lr, int64_t total_steps, ScheduleOptions options)
    : base_lr_(base_lr), total_steps_(total_steps), options_(std::move(options)) {
  validate(options_);
  const std::string& k = options_.kind;
  kind_ = k == "cosine"        ? Kind::cosine
          : k == "step"        ? Kind::step
          : k == "multistep"   ? Kind::multistep
          : k == "exponential" ? Kind::exponential
          : k == "polynomial"  ? Kind::polynomial
          : k == "plateau"     ? Kind::plateau
                               : Kind::constant;
}

double LrSchedule::at(int64_t step) const {
  const double rate = scheduled(step);
  if (reductions_ == 0) return rate;  // reductions come from plateau's observe() only
  return std::max(rate * std::pow(options_.gamma, static_cast<double>(reductions_)),
                  options_.min_lr);
}

double LrSchedule::scheduled(int64_t step) const {
  const int64_t warmup = options_.warmup_steps;
  if (step < warmup) return base_lr_ * static_cast<double>(step + 1) / static_cast<double>(warmup);
  const int64_t t = step - warmup, after = std::max<int64_t>(total_steps_ - warmup, 1);
  switch (kind_) {
    case Kind::constant:
    case Kind::plateau:
      return base_lr_;
    case Kind::cosine: {  // the last step runs at min_lr
      const int64_t span = std::max<int64_t>(after - 1, 1);
      const double x = std::min(1.0, static_cast<double>(t) / static_cast<double>(span));
      return options_.min_lr +
             (base_lr_ - options_.min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * x));
    }
    case Kind::step:
      return base_lr_ * std::pow(options_.gamma, static_cast<double>(t / options_.step_size));
    case Kind::multistep: {
      const auto passed =
          std::upper_bound(options_.milestones.begin(), options_.milestones.end(), t) -
          options_.milestones.begin();
      return base_lr_ * std::pow(options_.gamma, static_cast<double>(passed));
    }
    case Kind::exponential:
      return base_lr_ * std::pow(options_.gamma, static_cast<double>(t));
    case Kind::polynomial: {
      const double left =
          1.0 - static_cast<double>(std::min(t, after)) / static_cast<double>(after);
      return base_lr_ * std::pow(left, options_.power);
    }
  }
  return base_lr_;
}

bool LrSchedule::observe(double metric) {
  if (kind_ != Kind::plateau) return false;
  if (metric < best_ * (1.0 - options_.threshold)) {
    best_ = metric;
    bad_ = 0;
  } else {
    ++bad_;
  }
  if (bad_ <= options_.patience) return false;
  bad_ = 0;
  // torch reduces only while the rate is above min_lr by more than 1e-8.
  const double now = at(total_steps_);
  if (now - std::max(now * options_.gamma, options_.min_lr) <= 1e-8) return false;
  ++reductions_;
  return true;
}

std::array<double, 3> LrSchedule::state() const {
  return {best_, static_cast<double>(bad_), static_cast<double>(reductions_)};
}

void LrSchedule::set_state(const std::array<double, 3>& state) {
  best_ = state[0];
  bad_ = static_cast<int64_t>(state[1]);
  reductions_ = static_cast<int64_t>(state[2]);
}

}  // namespace tide
