// The training configuration: learning-rate scaling with the global batch, the checks on the
// data-parallel options, and the TOML it writes.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <optional>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"
#include "tide/kernels/parallel.hpp"
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
  c.lr_scaling = LrScaling::linear;
  EXPECT_DOUBLE_EQ(lr_scale_factor(c, 256), 4.0);
  EXPECT_DOUBLE_EQ(lr_scale_factor(c, 64), 1.0);
  c.lr_scaling = LrScaling::sqrt;
  EXPECT_DOUBLE_EQ(lr_scale_factor(c, 256), 2.0);
  c.lr_base_batch = 256;  // lr was tuned for 256: a global batch of 64 gets half
  EXPECT_DOUBLE_EQ(lr_scale_factor(c, 64), 0.5);
}

// The error validate() gives for the defaults changed by `set`: it names the member a library
// caller set (the CLI names the flag: tests/cli/test_cli_errors.cpp).
std::string error_with(const std::function<void(TrainConfig&)>& set) {
  TrainConfig c;
  set(c);
  return error_of([&] { validate(c); });
}

TEST(Config, DataParallelOptionsAreChecked) {
  EXPECT_THAT(error_with([](TrainConfig& c) { c.accumulate = 0; }),
              HasSubstr("accumulate must be a positive integer"));
  EXPECT_THAT(error_of([] { parse_choice<LrScaling>("cubic", "lr_scaling"); }),
              HasSubstr("lr_scaling must be none, linear or sqrt, got 'cubic'"));
  EXPECT_THAT(error_with([](TrainConfig& c) { c.team_values = "1,2"; }),
              HasSubstr("team_flag and team_values go together (got only team_values)"));
  EXPECT_THAT(error_with([](TrainConfig& c) { c.stall_timeout = 0; }),
              HasSubstr("stall_timeout must be a positive number, got 0"));
  EXPECT_THAT(error_with([](TrainConfig& c) { c.first_bucket_mb = -1; }),
              HasSubstr("first_bucket_mb must be a positive number of at most 1000000, got -1"));
  EXPECT_THAT(error_of([] { parse_choice<Overlap>("maybe", "overlap"); }),
              HasSubstr("overlap must be auto, on or off, got 'maybe'"));
  EXPECT_EQ(error_with([](TrainConfig&) {}), "no error");
}

TEST(Config, SessionOptionsAreChecked) {
  EXPECT_THAT(error_with([](TrainConfig& c) { c.checkpoint_every_secs = -1; }),
              HasSubstr("checkpoint_every_secs must be >= 0 (0: not by time), got -1"));
  EXPECT_THAT(error_with([](TrainConfig& c) { c.checkpoint_every_steps = -5; }),
              HasSubstr("checkpoint_every_steps must be >= 0 (0: not by steps), got -5"));
  EXPECT_THAT(error_with([](TrainConfig& c) { c.keep_checkpoints = -1; }),
              HasSubstr("keep_checkpoints must be >= 0 (0: all)"));
  EXPECT_THAT(error_of([] { parse_choice<NanPolicy>("ignore", "nan_policy"); }),
              HasSubstr("nan_policy must be stop or skip, got 'ignore'"));
  ResumeFrom r;
  EXPECT_THAT(error_of([&] { from_text("", r); }),
              HasSubstr("resume must be auto, never or a checkpoint's path"));
  from_text("runs/a/checkpoints/step-00000020.json", r);
  EXPECT_EQ(r, (ResumeFrom{.mode = ResumeFrom::Mode::path,
                           .path = "runs/a/checkpoints/step-00000020.json"}));
  from_text("never", r);
  EXPECT_EQ(r, ResumeFrom::never());
  EXPECT_EQ(to_text(r), "never");
}

TEST(Config, OptimizerAndRegularisationOptionsAreChecked) {
  EXPECT_THAT(error_with([](TrainConfig& c) { c.l1 = -1; }), HasSubstr("l1 must be >= 0"));
  EXPECT_THAT(error_with([](TrainConfig& c) { c.clip_norm = -1; }),
              HasSubstr("clip_norm must be >= 0 (0: off), got -1"));
  EXPECT_THAT(error_with([](TrainConfig& c) { c.beta2 = 1; }),
              HasSubstr("beta2 must be in [0, 1), got 1"));
  EXPECT_THAT(error_with([](TrainConfig& c) {
                c.optimizer = OptimizerKind::adam;
                c.nesterov = true;
              }),
              HasSubstr("nesterov is an option of optimizer sgd"));
  EXPECT_THAT(error_with([](TrainConfig& c) { c.amsgrad = true; }),
              HasSubstr("amsgrad is an option of optimizer adam and adamw"));
  EXPECT_THAT(error_with([](TrainConfig& c) { c.schedule.kind = ScheduleKind::multistep; }),
              HasSubstr("schedule.kind multistep needs schedule.milestones"));
  EXPECT_THAT(
      error_with([](TrainConfig& c) { c.model = "resnet"; }),
      HasSubstr("model must be cnn, gru, inception, lstm, mlp or transformer, got 'resnet'"));
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
// and negative values are refused by the member's name.
TEST(Config, NanInfinityAndOutOfRangeValuesAreRefusedByName) {
  const double nan = std::nan(""), inf = std::numeric_limits<double>::infinity();
  for (const auto& [set, want] :
       std::vector<std::pair<std::function<void(TrainConfig&)>, std::string>>{
           {[&](TrainConfig& c) { c.augment.noise_std = nan; },
            "augment.noise_std must be >= 0, got nan"},
           {[&](TrainConfig& c) { c.augment.noise_std = -1; }, "augment.noise_std must be >= 0"},
           {[&](TrainConfig& c) { c.augment.flip = nan; }, "augment.flip must be in [0, 1]"},
           {[&](TrainConfig& c) { c.augment.erase = -1; }, "augment.erase must be in [0, 1]"},
           {[&](TrainConfig& c) { c.augment.shift = -1; }, "augment.shift must be >= 0, got -1"},
           {[&](TrainConfig& c) { c.augment.crop = -1; }, "augment.crop must be >= 0, got -1"},
           {[&](TrainConfig& c) { c.momentum = nan; }, "momentum must be in [0, 1)"},
           {[&](TrainConfig& c) { c.weight_decay = inf; }, "weight_decay must be >= 0, got inf"},
           {[&](TrainConfig& c) { c.eps = nan; }, "eps must be >= 0 (0: the optimizer's default)"},
           {[&](TrainConfig& c) { c.l1 = inf; }, "l1 must be >= 0, got inf"},
           {[&](TrainConfig& c) { c.clip_norm = inf; }, "clip_norm must be >= 0"},
           {[&](TrainConfig& c) { c.lars_trust = nan; }, "lars_trust must be a positive number"},
           {[&](TrainConfig& c) { c.dropout = nan; }, "dropout must be in [0, 1)"},
           {[&](TrainConfig& c) { c.label_smoothing = nan; }, "label_smoothing must be"},
           {[&](TrainConfig& c) { c.schedule.min_lr = inf; }, "schedule.min_lr must be >= 0"},
           {[&](TrainConfig& c) { c.schedule.power = inf; }, "schedule.power must be a positive"},
           {[&](TrainConfig& c) { c.bucket_mb = nan; },
            "bucket_mb must be a positive number of at most 1000000"},
           {[&](TrainConfig& c) { c.bucket_mb = 1e300; },
            "bucket_mb must be a positive number of at most 1000000"},
           {[&](TrainConfig& c) { c.stall_timeout = nan; }, "stall_timeout must be"},
           {[&](TrainConfig& c) { c.checkpoint_every_secs = inf; }, "checkpoint_every_secs"},
           {[&](TrainConfig& c) { c.batch_size = INT64_MAX; },
            "batch_size must be a positive integer of at most 4294967296, got 9223372036854775807"},
           {[&](TrainConfig& c) { c.accumulate = INT64_MAX; },
            "accumulate must be a positive integer of at most 4294967296"},
           {[&](TrainConfig& c) { c.hidden = int64_t{1} << 40; },
            "hidden must be a positive integer of at most 1048576"},
           {[&](TrainConfig& c) { c.threads = 2000000000; },
            "threads must be in [0, 4096] (0: SLURM_CPUS_PER_TASK, else the node's cores shared "
            "among its ranks)"},
           {[&](TrainConfig& c) { c.prefetch = 2000000000; }, "prefetch must be in [0, 1024]"},
           {[&](TrainConfig& c) {
              c.team_flag = "lr";
              c.team_values = "0.1,0.2";
              c.teams = 3;
            },
            "team_values '0.1,0.2' has 2 values; teams 3 needs one per team"},
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
              HasSubstr("epochs 9223372036854775807 of 1000 steps each is more steps than fit "
                        "in 64 bits"));
  EXPECT_EQ(total_steps(c, 1), INT64_MAX);
  c.max_steps = 5;
  EXPECT_EQ(total_steps(c, 1000), 5);
  c.epochs = 3;
  c.max_steps = 0;
  EXPECT_EQ(total_steps(c, 1000), 3000);
  c.warmup_epochs = 1e300;
  EXPECT_THAT(error_of([&] { schedule_options(c, 1000); }),
              HasSubstr("warmup_epochs 1e+300 of 1000 steps"));
  c.warmup_epochs = 0.5;
  EXPECT_EQ(schedule_options(c, 1000).warmup_steps, 500);
}

// --threads 0 under Slurm takes the CPUs of each task (srun -c N sets SLURM_CPUS_PER_TASK);
// a value that is not a positive count falls back to the node's cores shared among its ranks
// (a world of one here: 0, one thread per core). An explicit --threads wins.
TEST(Config, ThreadsComeFromSlurmCpusPerTask) {
  std::optional<std::string> outer;
  if (const char* v = std::getenv("SLURM_CPUS_PER_TASK")) outer = v;
  unsetenv("SLURM_CPUS_PER_TASK");
  EXPECT_EQ(default_threads(0), 0);
  EXPECT_EQ(default_threads(5), 5);
  setenv("SLURM_CPUS_PER_TASK", "1", 1);
  EXPECT_EQ(default_threads(0), 1);
  EXPECT_EQ(default_threads(2), 2);
  // Never more than the CPUs this process may run on.
  setenv("SLURM_CPUS_PER_TASK", "100000", 1);
  EXPECT_EQ(default_threads(0), std::min(num_procs(), 4096));
  for (const char* bad : {"0", "-2", "3x", "", " 3", "99999999999"}) {
    setenv("SLURM_CPUS_PER_TASK", bad, 1);
    EXPECT_EQ(default_threads(0), 0) << "SLURM_CPUS_PER_TASK='" << bad << "'";
  }
  if (outer) {
    setenv("SLURM_CPUS_PER_TASK", outer->c_str(), 1);
  } else {
    unsetenv("SLURM_CPUS_PER_TASK");
  }
}

TEST(Config, GlobalBatchIsCheckedForOverflow) {
  TrainConfig c;
  c.batch_size = 64;
  c.accumulate = 4;
  EXPECT_EQ(global_batch(c, 8), 64 * 4 * 8);
  c.batch_size = int64_t{1} << 32;
  c.accumulate = int64_t{1} << 31;
  EXPECT_THAT(error_of([&] { global_batch(c, 4); }),
              HasSubstr("batch_size 4294967296 x accumulate 2147483648 x 4 ranks does not fit"));
}

}  // namespace
}  // namespace tide
