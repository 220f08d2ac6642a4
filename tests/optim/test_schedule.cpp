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
  expect_rates(LrSchedule(0.1, 20, {.kind = ScheduleKind::cosine, .min_lr = 0.001}),
               torch_rates("cosine"));
}

TEST(LrSchedule, WarmupThenCosineMatchesPyTorch) {
  expect_rates(
      LrSchedule(0.1, 20, {.kind = ScheduleKind::cosine, .warmup_steps = 5, .min_lr = 0.001}),
      torch_rates("warmup_cosine"));
}

TEST(LrSchedule, StepMultistepExponentialPolynomialMatchPyTorch) {
  expect_rates(LrSchedule(0.1, 20, {.kind = ScheduleKind::step, .step_size = 4, .gamma = 0.5}),
               torch_rates("step"));
  expect_rates(
      LrSchedule(0.1, 20,
                 {.kind = ScheduleKind::multistep, .milestones = {3, 7, 12}, .gamma = 0.3}),
      torch_rates("multistep"));
  expect_rates(LrSchedule(0.1, 20, {.kind = ScheduleKind::exponential, .gamma = 0.9}),
               torch_rates("exponential"));
  expect_rates(LrSchedule(0.1, 20, {.kind = ScheduleKind::polynomial, .power = 2.0}),
               torch_rates("polynomial"));
  expect_rates(
      LrSchedule(0.1, 20,
                 {.kind = ScheduleKind::step, .warmup_steps = 5, .step_size = 4, .gamma = 0.5}),
      torch_rates("warmup_step"));
}

// ReduceLROnPlateau: the rate after each observed loss, through rises, flat stretches within
// the threshold, and the floor at min_lr.
TEST(LrSchedule, PlateauMatchesPyTorch) {
  const TensorMap f =
      load_safetensors(std::string(TIDE_SOURCE_DIR) + "/tests/fixtures/plateau.safetensors");
  const std::vector<double> losses = f.at("losses").to_vector(), lrs = f.at("lrs").to_vector();
  const ScheduleOptions o{.kind = ScheduleKind::plateau,
                          .min_lr = 0.004,
                          .gamma = 0.5,
                          .patience = 2,
                          .threshold = 0.01};
  LrSchedule s(0.1, 100, o);
  int64_t reductions = 0;
  for (size_t i = 0; i < losses.size(); ++i) {
    reductions += s.observe(losses[i]) ? 1 : 0;
    EXPECT_NEAR(s.at(50), lrs[i], 1e-12) << "after loss " << i;
  }
  EXPECT_EQ(reductions, s.reductions());
  EXPECT_GE(reductions, 3);  // the fixture reaches the floor
  EXPECT_DOUBLE_EQ(s.at(50), 0.004);

  // The state taken at any point and set into a fresh schedule continues identically.
  LrSchedule a(0.1, 100, o), b(0.1, 100, o);
  for (size_t i = 0; i < 7; ++i) a.observe(losses[i]);
  b.set_state(a.state());
  for (size_t i = 7; i < losses.size(); ++i) {
    EXPECT_EQ(a.observe(losses[i]), b.observe(losses[i])) << i;
    EXPECT_EQ(a.at(50), b.at(50));
  }
}

TEST(LrSchedule, PlateauReductionsApplyToTheWarmUp) {
  LrSchedule s(0.1, 100,
               {.kind = ScheduleKind::plateau, .warmup_steps = 10, .gamma = 0.5, .patience = 0});
  EXPECT_DOUBLE_EQ(s.at(4), 0.05);
  s.observe(1.0);
  s.observe(1.0);  // no improvement, more than patience 0 times: halved
  EXPECT_DOUBLE_EQ(s.at(4), 0.025);
  EXPECT_DOUBLE_EQ(s.at(40), 0.05);
  // Other kinds ignore what they observe.
  LrSchedule c(0.1, 100, {});
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(c.observe(1.0));
  EXPECT_DOUBLE_EQ(c.at(40), 0.1);
}

TEST(LrSchedule, StepsPastTheEndStayAtTheFinalRate) {
  const LrSchedule s(0.1, 10, {.kind = ScheduleKind::cosine});
  EXPECT_DOUBLE_EQ(s.at(9), 0.0);
  EXPECT_DOUBLE_EQ(s.at(25), 0.0);
}

// A library caller is told the member it set; the CLI's table spells the same error with
// the flag (tests/cli).
TEST(LrSchedule, BadOptionsNameTheMember) {
  EXPECT_THAT([] { parse_choice<ScheduleKind>("linear", "kind"); },
              ::testing::ThrowsMessage<OptionError>(::testing::HasSubstr(
                  "kind must be constant, cosine, step, multistep, exponential, polynomial or "
                  "plateau, got 'linear'")));
  EXPECT_THAT([] { LrSchedule(0.1, 10, {.warmup_steps = -1}); },
              ::testing::ThrowsMessage<OptionError>(
                  ::testing::HasSubstr("warmup_steps must be >= 0, got -1")));
  EXPECT_THAT([] { LrSchedule(0.1, 10, {.kind = ScheduleKind::plateau, .threshold = 1.5}); },
              ::testing::ThrowsMessage<OptionError>(
                  ::testing::HasSubstr("threshold must be in [0, 1), got 1.5")));
  EXPECT_THAT([] { LrSchedule(0.1, 10, {.kind = ScheduleKind::multistep}); },
              ::testing::ThrowsMessage<OptionError>(
                  ::testing::HasSubstr("kind multistep needs milestones")));
}

}  // namespace
}  // namespace tide
