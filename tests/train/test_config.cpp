// The training configuration: learning-rate scaling with the global batch, the checks on the
// data-parallel options, and the TOML it writes.
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

TEST(Config, DataParallelOptionsAreChecked) {
  TrainConfig c;
  c.accumulate = 0;
  EXPECT_THAT(error_of([&] { validate(c); }), HasSubstr("--accumulate must be a positive integer"));
  c = TrainConfig{};
  c.lr_scaling = "cubic";
  EXPECT_THAT(error_of([&] { validate(c); }),
              HasSubstr("--lr-scaling must be none, linear or sqrt"));
  c = TrainConfig{};
  c.team_values = "1,2";
  EXPECT_THAT(error_of([&] { validate(c); }),
              HasSubstr("--team-flag and --team-values go together"));
  c = TrainConfig{};
  c.stall_timeout = 0;
  EXPECT_THAT(error_of([&] { validate(c); }), HasSubstr("--stall-timeout must be a positive"));
  c = TrainConfig{};
  c.first_bucket_mb = -1;
  EXPECT_THAT(error_of([&] { validate(c); }), HasSubstr("--bucket-mb and --first-bucket-mb"));
  const TrainConfig defaults;
  EXPECT_EQ(error_of([&] { validate(defaults); }), "no error");
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
