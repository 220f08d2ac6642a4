#include "tide/optim/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "tide/core/error.hpp"

namespace tide {

std::vector<Option> options(ScheduleOptions& o) {
  return {
      option("kind", "lr-schedule", o.kind, "Learning-rate schedule over the run"),
      option("warmup_steps", "warmup-steps", o.warmup_steps,
             "Steps of linear warm-up before the schedule", at_least(0)),
      option("min_lr", "min-lr", o.min_lr,
             "cosine: the learning rate at the end; plateau: its floor", at_least(0)),
      option("step_size", "lr-step-size", o.step_size,
             "step: multiply the rate by --lr-gamma every this many steps", above(0)),
      option("milestones", "lr-milestones", o.milestones,
             "multistep: steps (after warm-up) at which the rate is multiplied by --lr-gamma"),
      option("gamma", "lr-gamma", o.gamma, "step, multistep, exponential, plateau: the factor",
             open_closed(0, 1)),
      option("power", "lr-power", o.power, "polynomial: the power", above(0)),
      option("patience", "lr-patience", o.patience,
             "plateau: evaluations without a lower test loss before the rate falls", at_least(0)),
      option("threshold", "lr-threshold", o.threshold,
             "plateau: the relative fall of the test loss that counts as lower", half_open(0, 1)),
  };
}

void validate(const ScheduleOptions& o) {
  ScheduleOptions copy = o;
  check_limits(options(copy));
  check_option(o.kind != ScheduleKind::multistep || !o.milestones.empty(), {"kind", "milestones"},
               "{0} multistep needs {1} (steps after warm-up, e.g. 1000,2000)");
  for (size_t i = 0; i < o.milestones.size(); ++i)
    check_option(o.milestones[i] > 0 && (i == 0 || o.milestones[i] > o.milestones[i - 1]),
                 {"milestones"}, "{0} must be positive and increasing, got {} after {}",
                 o.milestones[i], i == 0 ? 0 : o.milestones[i - 1]);
}

LrSchedule::LrSchedule(double base_lr, int64_t total_steps, ScheduleOptions options)
    : base_lr_(base_lr), total_steps_(total_steps), options_(std::move(options)) {
  validate(options_);
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
  switch (options_.kind) {
    case ScheduleKind::constant:
    case ScheduleKind::plateau:
      return base_lr_;
    case ScheduleKind::cosine: {  // the last step runs at min_lr
      const int64_t span = std::max<int64_t>(after - 1, 1);
      const double x = std::min(1.0, static_cast<double>(t) / static_cast<double>(span));
      return options_.min_lr +
             (base_lr_ - options_.min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * x));
    }
    case ScheduleKind::step:
      return base_lr_ * std::pow(options_.gamma, static_cast<double>(t / options_.step_size));
    case ScheduleKind::multistep: {
      const auto passed =
          std::upper_bound(options_.milestones.begin(), options_.milestones.end(), t) -
          options_.milestones.begin();
      return base_lr_ * std::pow(options_.gamma, static_cast<double>(passed));
    }
    case ScheduleKind::exponential:
      return base_lr_ * std::pow(options_.gamma, static_cast<double>(t));
    case ScheduleKind::polynomial: {
      const double left =
          1.0 - static_cast<double>(std::min(t, after)) / static_cast<double>(after);
      return base_lr_ * std::pow(left, options_.power);
    }
  }
  return base_lr_;
}

bool LrSchedule::observe(double metric) {
  if (options_.kind != ScheduleKind::plateau) return false;
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
