// Learning-rate schedules against torch.optim.lr_scheduler (tests/fixtures/generate.py):
// constant, CosineAnnealingLR, and LinearLR warm-up followed by cosine (SequentialLR).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tide/core/error.hpp"
#include "tide/optim/schedule.hpp"
#include "tide/tensor/safetensors.hpp"

namespace tide {
namespace {

std::vector<double> torch_rates(const std::string& name) {
  static const TensorMap all =
      load_safetensors(std::string(TIDE_SOURCE_DIR) + "/tests/fixtures/schedules.safetensors");
  return all.at(name).to_vector();
}

void expect_rates(const LrSchedule& schedule, const std::vector<double>& expected) {
  ASSERT_EQ(expected.size(), 20u);
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_NEAR(schedule.at(static_cast<int64_t>(i)), expected[i], 1e-12) << "step " << i;
}

TEST(LrSchedule, ConstantMatchesPyTorch) {
  expect_rates(LrSchedule(0.1, 20, {}), torch_rates("constant"));
}

TEST(LrSchedule, CosineMatchesPyTorch) {
  expect_rates(LrSchedule(0.1, 20, {.kind = "cosine", .min_lr = 0.001}), torch_rates("cosine"));
}

TEST(LrSchedule, WarmupThenCosineMatchesPyTorch) {
  expect_rates(LrSchedule(0.1, 20, {.kind = "cosine", .warmup_steps = 5, .min_lr = 0.001}),
               torch_rates("warmup_cosine"));
}

TEST(LrSchedule, StepMultistepExponentialPolynomialMatchPyTorch) {
  expect_rates(LrSchedule(0.1, 20, {.kind = "step", .step_size = 4, .gamma = 0.5}),
               torch_rates("step"));
  expect_rates(LrSchedule(0.1, 20, {.kind = "multistep", .milestones = {3, 7, 12}, .gamma = 0.3}),
               torch_rates("multistep"));
  expect_rates(LrSchedule(0.1, 20, {.kind = "exponential", .gamma = 0.9}),
               torch_rates("exponential"));
  expect_rates(LrSchedule(0.1, 20, {.kind = "polynomial", .power = 2.0}),
               torch_rates("polynomial"));
  expect_rates(
      LrSchedule(0.1, 20, {.kind = "step", .warmup_steps = 5, .step_size = 4, .gamma = 0.5}),
      torch_rates("warmup_step"));
}

TEST(LrSchedule, StepsPastTheEndStayAtTheFinalRate) {
  const LrSchedule s(0.1, 10, {.kind = "cosine"});
  EXPECT_DOUBLE_EQ(s.at(9), 0.0);
  EXPECT_DOUBLE_EQ(s.at(25), 0.0);
}

TEST(LrSchedule, BadOptionsNameTheFlag) {
  EXPECT_THAT([] { LrSchedule(0.1, 10, {.kind = "linear"}); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("--lr-schedule")));
  EXPECT_THAT([] { LrSchedule(0.1, 10, {.warmup_steps = -1}); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("--warmup-steps")));
}

}  // namespace
}  // namespace tide
