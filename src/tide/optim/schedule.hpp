// Learning-rate schedules: the learning rate of a step as a function of the step and the run's
// length, as torch.optim.lr_scheduler defines them, with an optional linear warm-up in front.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tide {

struct ScheduleOptions {
  std::string kind = "constant";  // constant | cosine
  int64_t warmup_steps = 0;       // the rate climbs linearly from 0 over these steps
  double min_lr = 0;              // cosine: the rate at the last step
};

// Throws tide::Error naming the flag when a value is out of range or the kind unknown.
void validate(const ScheduleOptions& options);

class LrSchedule {
 public:
  // base_lr is the rate after warm-up; total_steps the length of the run in steps.
  LrSchedule(double base_lr, int64_t total_steps, ScheduleOptions options);

  // The rate for step `step` (0-based): warm-up takes it from base_lr / warmup_steps at step
  // 0 to base_lr at step warmup_steps; cosine (CosineAnnealingLR with T_max = the steps
  // after warm-up) then takes it from base_lr down to min_lr at the last step.
  double at(int64_t step) const;

 private:
  double base_lr_;
  int64_t total_steps_;
  ScheduleOptions options_;
  bool cosine_ = false;  // options_.kind, decided once rather than compared every step
};

// The known schedule names, for help texts and errors.
std::string_view schedule_names();

}  // namespace tide
