// The training configuration: learning-rate scaling with the global batch, the checks on the
// data-parallel options, and the TOML it writes.
#include <functional>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"
#include "tide/train/config.hpp"

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

}  // namespace
}  // namespace tide
