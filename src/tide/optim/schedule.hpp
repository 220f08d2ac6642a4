// Learning-rate schedules: the learning rate of a step as a function of the step and the run's
// length, as torch.optim.lr_scheduler defines them, with an optional linear warm-up in front.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "tide/core/options.hpp"

namespace tide {

enum class ScheduleKind { constant, cosine, step, multistep, exponential, polynomial, plateau };
constexpr std::array<std::string_view, 7> choice_names(ScheduleKind) {
  return {"constant", "cosine", "step", "multistep", "exponential", "polynomial", "plateau"};
}

struct ScheduleOptions {
  ScheduleKind kind = ScheduleKind::constant;
  int64_t warmup_steps = 0;              // the rate climbs linearly from 0 over these steps
  double min_lr = 0;                     // cosine: the rate at the last step
  int64_t step_size = 1000;              // step: the rate falls by gamma every this many steps
  std::vector<int64_t> milestones = {};  // multistep: ... at each of these steps
  double gamma = 0.1;                    // step, multistep, exponential (every step)
  double power = 1.0;                    // polynomial: (1 - t / T)^power to 0 at the end
  // plateau: the rate times gamma (not below min_lr) once the observed metric has not
  // fallen below best * (1 - threshold) for more than `patience` observations in a row.
  int64_t patience = 10;
  double threshold = 1e-4;
};

// The options, named by member ("gamma"; flags --lr-schedule, --warmup-steps, --min-lr,
// --lr-step-size, --lr-milestones, --lr-gamma, --lr-power, --lr-patience, --lr-threshold).
std::vector<Option> options(ScheduleOptions& o);

// Throws OptionError naming the option when a value is out of range.
void validate(const ScheduleOptions& options);

class LrSchedule {
 public:
  // base_lr is the rate after warm-up; total_steps the length of the run in steps.
  LrSchedule(double base_lr, int64_t total_steps, ScheduleOptions options);

  // The rate for step `step` (0-based): warm-up takes it from base_lr / warmup_steps at step
  // 0 to base_lr at step warmup_steps; then, with t the steps since warm-up and T the steps
  // after it, torch.optim.lr_scheduler's rule: cosine (CosineAnnealingLR, T_max = T - 1,
  // down to min_lr at the last step), step (StepLR), multistep (MultiStepLR, milestones
  // counted in t), exponential (ExponentialLR), polynomial (PolynomialLR, total_iters = T).
  // plateau (ReduceLROnPlateau, mode min, relative threshold, no cooldown): the warm-up's
  // or base rate times gamma^reductions, never below min_lr.
  double at(int64_t step) const;

  // plateau: records an evaluation's metric (lower is better; for the other kinds it is
  // ignored). Returns whether the rate was reduced.
  bool observe(double metric);
  int64_t reductions() const { return reductions_; }
  // What observe() has learned, for checkpoints: best metric, observations without
  // improvement, reductions.
  std::array<double, 3> state() const;
  void set_state(const std::array<double, 3>& state);

 private:
  // The rate of warm-up and schedule, before plateau's reductions.
  double scheduled(int64_t step) const;
  double base_lr_;
  int64_t total_steps_;
  ScheduleOptions options_;
  double best_ = std::numeric_limits<double>::infinity();
  int64_t bad_ = 0, reductions_ = 0;
};

}  // namespace tide
