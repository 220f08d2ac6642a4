// The training configuration: learning-rate scaling with the global batch, the checks on the
// data-parallel options, and the TOML it writes.
#include <cmath>
#include <functional>
#include <limits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"
#include "tide/session/config.hpp"
#include "tide/session/training_run.hpp"

namespace tide {
namespace {

using testing::error_of;
using ::testing::HasSubstr;

TEST(Config, LearningRateScalesWithTheGlobalBatch) {
  TrainConfig c;
  c.batch_size = 64;
  EXPECT_DOUBLE_EQ(lr_scale_factor(c, 256), 1.0);  // none
  c.lr_scaling = "linear";
  EXPECT_DOUBLE_EQ(lr_scale_factor(c, 256), 4.0);
  EXPECT_DOUBLE_EQ(lr_scale_factor(c, 64), 1.0);
  c.lr_scaling = "sqrt";
  EXPECT_DOUBLE_EQ(lr_scale_factor(c, 256), 2.0);
  c.lr_base_batch = 256;  // lr was tuned for 256: a global batch of 64 gets half
  EXPECT_DOUBLE_EQ(lr_scale_factor(c, 64), 0.5);
}

// The error validate() gives for the defaults changed by `set`.
std::string error_with(const std::function<void(TrainConfig&)>& set) {
  TrainConfig c;
  set(c);
  return error_of([&] { validate(c); });
}

TEST(Config, DataParallelOptionsAreChecked) {
  EXPECT_THAT(error_with([](TrainConfig& c) { c.accumulate = 0; }),
              HasSubstr("--accumulate must be a positive integer"));
  EXPECT_THAT(error_with([](TrainConfig& c) { c.lr_scaling = "cubic"; }),
              HasSubstr("--lr-scaling must be none, linear or sqrt"));
  EXPECT_THAT(error_with([](TrainConfig& c) { c.team_values = "1,2"; }),
              HasSubstr("--team-flag and --team-values go together"));
  EXPECT_THAT(error_with([](TrainConfig& c) { c.stall_timeout = 0; }),
              HasSubstr("--stall-timeout must be a positive"));
  EXPECT_THAT(error_with([](TrainConfig& c) { c.first_bucket_mb = -1; }),
              HasSubstr("--bucket-mb and --first-bucket-mb"));
  EXPECT_THAT(error_with([](TrainConfig& c) { c.overlap = "maybe"; }),
              HasSubstr("--overlap must be auto, on or off"));
  EXPECT_EQ(error_with([](TrainConfig&) {}), "no error");
}

TEST(Config, SessionOptionsAreChecked) {
  EXPECT_THAT(error_with([](TrainConfig& c) { c.checkpoint_every_secs = -1; }),
              HasSubstr("--checkpoint-every-secs must be >= 0"));
  EXPECT_THAT(error_with([](TrainConfig& c) { c.checkpoint_every_steps = -5; }),
              HasSubstr("--checkpoint-every-steps must be >= 0"));
  EXPECT_THAT(error_with([](TrainConfig& c) { c.keep_checkpoints = -1; }),
              HasSubstr("--keep-checkpoints must be >= 0"));
  EXPECT_THAT(error_with([](TrainConfig& c) { c.nan_policy = "ignore"; }),
              HasSubstr("--nan-policy must be stop or skip"));
  EXPECT_THAT(error_with([](TrainConfig& c) { c.resume.clear(); }),
              HasSubstr("--resume must be auto, never or a checkpoint's path"));
}

TEST(Config, OptimizerAndRegularisationOptionsAreChecked) {
  EXPECT_THAT(error_with([](TrainConfig& c) { c.l1 = -1; }), HasSubstr("--l1 must be >= 0"));
  EXPECT_THAT(error_with([](TrainConfig& c) { c.clip_norm = -1; }),
              HasSubstr("--clip-norm and --clip-value must be >= 0"));
  EXPECT_THAT(error_with([](TrainConfig& c) { c.beta2 = 1; }),
              HasSubstr("--beta1 and --beta2 must be in [0, 1)"));
  EXPECT_THAT(error_with([](TrainConfig& c) {
                c.optimizer = "adam";
                c.nesterov = true;
              }),
              HasSubstr("--nesterov is an option of --optimizer sgd"));
  EXPECT_THAT(error_with([](TrainConfig& c) { c.schedule.kind = "multistep"; }),
              HasSubstr("--lr-schedule multistep needs --lr-milestones"));
}

TEST(Config, TomlHasTheDataParallelOptions) {
  TrainConfig c;
  c.accumulate = 4;
  c.team_flag = "batch-size";
  const std::string toml = to_toml(c);
  EXPECT_THAT(toml, HasSubstr("accumulate = 4\n"));
  EXPECT_THAT(toml, HasSubstr("team-flag = \"batch-size\"\n"));
  EXPECT_THAT(toml, HasSubstr("lr-scaling = \"none\"\n"));
}

// A library user's configuration goes through the same checks as the flags: NaN, infinite
// and negative values are refused by the flag's name.
TEST(Config, NanInfinityAndOutOfRangeValuesAreRefusedByName) {
  const double nan = std::nan(""), inf = std::numeric_limits<double>::infinity();
  for (const auto& [set, want] :
       std::vector<std::pair<std::function<void(TrainConfig&)>, std::string>>{
           {[&](TrainConfig& c) { c.augment.noise_std = nan; }, "--noise must be a finite"},
           {[&](TrainConfig& c) { c.augment.noise_std = -1; }, "--noise must be a finite"},
           {[&](TrainConfig& c) { c.augment.flip = nan; }, "--flip must be a probability"},
           {[&](TrainConfig& c) { c.augment.erase = -1; }, "--erase must be a probability"},
           {[&](TrainConfig& c) { c.augment.shift = -1; }, "--shift must be >= 0, got -1"},
           {[&](TrainConfig& c) { c.augment.crop = -1; }, "--crop must be >= 0, got -1"},
           {[&](TrainConfig& c) { c.momentum = nan; }, "--momentum must be in [0, 1)"},
           {[&](TrainConfig& c) { c.weight_decay = inf; },
            "--weight-decay must be >= 0 and finite"},
           {[&](TrainConfig& c) { c.eps = nan; }, "--eps must be >= 0 and finite"},
           {[&](TrainConfig& c) { c.l1 = inf; }, "--l1 must be >= 0 and finite"},
           {[&](TrainConfig& c) { c.clip_norm = inf; }, "--clip-norm and --clip-value"},
           {[&](TrainConfig& c) { c.lars_trust = nan; }, "--lars-trust must be a positive"},
           {[&](TrainConfig& c) { c.dropout = nan; }, "--dropout must be in [0, 1)"},
           {[&](TrainConfig& c) { c.label_smoothing = nan; }, "--label-smoothing must be"},
           {[&](TrainConfig& c) { c.schedule.min_lr = inf; }, "--min-lr must be finite"},
           {[&](TrainConfig& c) { c.schedule.power = inf; }, "--lr-power must be finite"},
           {[&](TrainConfig& c) { c.bucket_mb = nan; }, "--bucket-mb and --first-bucket-mb"},
           {[&](TrainConfig& c) { c.bucket_mb = 1e300; }, "--bucket-mb and --first-bucket-mb"},
           {[&](TrainConfig& c) { c.stall_timeout = nan; }, "--stall-timeout must be"},
           {[&](TrainConfig& c) { c.checkpoint_every_secs = inf; }, "--checkpoint-every-secs"},
           {[&](TrainConfig& c) { c.batch_size = INT64_MAX; },
            "--batch-size must be a positive integer of at most"},
           {[&](TrainConfig& c) { c.accumulate = INT64_MAX; },
            "--accumulate must be a positive integer of at most"},
           {[&](TrainConfig& c) { c.hidden = int64_t{1} << 40; },
            "--hidden must be a positive integer of at most"},
           {[&](TrainConfig& c) { c.threads = 2000000000; }, "--threads must be >= 0"},
           {[&](TrainConfig& c) { c.prefetch = 2000000000; }, "--prefetch must be in [0, 1024]"},
           {[&](TrainConfig& c) {
              c.team_flag = "lr";
              c.team_values = "0.1,0.2";
              c.teams = 3;
            },
            "--team-values '0.1,0.2' has 2 values; --teams 3 needs one per team"},
       }) {
    EXPECT_THAT(error_with(set), HasSubstr(want)) << want;
  }
}

// The step count of a run is computed with overflow checks: --epochs at int64's maximum is
// refused unless --max-steps ends the run first.
TEST(Config, StepCountsThatDoNotFitAreRefused) {
  TrainConfig c;
  c.epochs = INT64_MAX;
  EXPECT_THAT(error_of([&] { total_steps(c, 1000); }),
              HasSubstr("--epochs 9223372036854775807 of 1000 steps each is more steps than fit "
                        "in 64 bits"));
  EXPECT_EQ(total_steps(c, 1), INT64_MAX);
  c.max_steps = 5;
  EXPECT_EQ(total_steps(c, 1000), 5);
  c.epochs = 3;
  c.max_steps = 0;
  EXPECT_EQ(total_steps(c, 1000), 3000);
  c.warmup_epochs = 1e300;
  EXPECT_THAT(error_of([&] { schedule_options(c, 1000); }), HasSubstr("--warmup-epochs"));
  c.warmup_epochs = 0.5;
  EXPECT_EQ(schedule_options(c, 1000).warmup_steps, 500);
}

TEST(Config, GlobalBatchIsCheckedForOverflow) {
  TrainConfig c;
  c.batch_size = 64;
  c.accumulate = 4;
  EXPECT_EQ(global_batch(c, 8), 64 * 4 * 8);
  c.batch_size = int64_t{1} << 32;
  c.accumulate = int64_t{1} << 31;
  EXPECT_THAT(
      error_of([&] { global_batch(c, 4); }),
      HasSubstr("--batch-size 4294967296 x --accumulate 2147483648 x 4 ranks does not fit"));
}

}  // namespace
}  // namespace tide
