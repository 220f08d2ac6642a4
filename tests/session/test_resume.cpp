// Exact resume as a user meets it: `tide train` stopped by SIGTERM, or a 2-rank job killed
// with SIGKILL at a random step (in f32, and in bf16 with bf16 gradients), then run again
// with the same command, ends with a final checkpoint identical byte for byte to that of a
// run never stopped; a corrupt newest checkpoint is reported by name and the one before it
// is used; resuming from an older one starts a timeline that rotation and `--resume auto`
// follow.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const std::string kTide = std::string(TIDE_BINARY_DIR) + "/tide";
const std::string kMpirun = std::string(TIDE_SOURCE_DIR) + "/scripts/mpirun-local";

std::string fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("tide_resume_" + name);
  fs::remove_all(d);
  return d.string();
}

std::string train(const std::string& dir, int64_t steps, const std::string& extra = "") {
  return fmt::format(
      "{} train --model mlp --max-steps {} --log-every 10 --threads 1 --seed 4 "
      "--lr 0.02 --checkpoint-every-steps 20 --run-dir {} {}",
      kTide, steps, dir, extra);
}

std::string final_tensors(const std::string& dir, int64_t steps) {
  return fmt::format("{}/checkpoints/step-{:08}.safetensors", dir, steps);
}

TEST(Resume, SigtermWritesACheckpointAndTheSameCommandFinishesIdentically) {
  const std::string whole = fresh_dir("term_whole"), cut = fresh_dir("term_cut");
  // 400 steps, SIGTERM once the metrics show step 30: on a loaded machine the poll below
  // may lag the run by seconds, and 370 steps leave it that time (a CI run failed this test
  // with 150).
  ASSERT_EQ(testing::run_command(train(whole, 400)).status, 0);
  // The run stops at the next step boundary.
  const auto stopped = testing::run_command(fmt::format(
      "timeout 120 sh -c '{} & pid=$!; until grep -q \"^30,\" {}/metrics.csv 2>/dev/null; do "
      "sleep 0.02; done; kill -TERM $pid; wait $pid; echo \"exit status $?\"'",
      train(cut, 400), cut));
  EXPECT_THAT(stopped.out, HasSubstr("exit status 143")) << stopped.out;
  EXPECT_THAT(stopped.out, HasSubstr("(SIGTERM received); checkpoint "));
  EXPECT_THAT(stopped.out, HasSubstr("to resume, run the same command"));
  EXPECT_FALSE(fs::exists(cut + "/summary.json")) << "a preempted run is not finished";
  const auto resumed = testing::run_command(train(cut, 400));
  ASSERT_EQ(resumed.status, 0) << resumed.out;
  EXPECT_THAT(resumed.out, HasSubstr("resuming from"));
  // Compared as a whole: gtest's diff of two unequal 3 MB strings would take minutes.
  EXPECT_TRUE(testing::read_bytes(final_tensors(cut, 400)) ==
              testing::read_bytes(final_tensors(whole, 400)))
      << "the final tensors differ";
}

// `extra`: more flags of both runs.
void expect_kill_and_resume_identical(const std::string& name, const std::string& extra) {
  const std::string whole = fresh_dir(name + "_whole"), cut = fresh_dir(name + "_cut");
  auto with_dir = [&extra](const std::string& dir) {
    return fmt::format("{} -np 2 {}", kMpirun, train(dir, 160, extra));
  };
  ASSERT_EQ(testing::run_command(with_dir(whole)).status, 0);
  // SIGKILL the whole job (mpirun and both ranks, one process group) a random while after
  // its first checkpoint.
  std::random_device seed;
  const int delay_ms = std::uniform_int_distribution<int>(0, 600)(seed);
  const auto killed = testing::run_command(fmt::format(
      "timeout 120 bash -c 'setsid {} > {}.log 2>&1 & pid=$!; until [ -f "
      "{}/checkpoints/step-00000020.json ]; do sleep 0.01; done; sleep {}; kill -KILL -- -$pid; "
      "wait $pid; echo \"killed $?\"'",
      with_dir(cut), cut, cut, delay_ms / 1000.0));
  EXPECT_THAT(killed.out, HasSubstr("killed 137")) << "killed " << delay_ms << " ms after step 20";
  const auto resumed = testing::run_command(with_dir(cut));
  ASSERT_EQ(resumed.status, 0) << resumed.out;
  EXPECT_THAT(resumed.out, HasSubstr("resuming from"));
  EXPECT_FALSE(testing::read_bytes(final_tensors(whole, 160)).empty());
  EXPECT_TRUE(testing::read_bytes(final_tensors(cut, 160)) ==
              testing::read_bytes(final_tensors(whole, 160)))
      << "the final tensors differ; killed " << delay_ms << " ms after the checkpoint of step 20";
}

TEST(Resume, TwoRanksKilledAtARandomStepResumeToIdenticalBytes) {
  expect_kill_and_resume_identical("kill", "");
}

// bf16 changes the products, not the state: the f32 parameters and optimizer state that a
// checkpoint holds are all a bf16 run has, on the wire too.
TEST(Resume, Bf16TwoRanksKilledAtARandomStepResumeToIdenticalBytes) {
  expect_kill_and_resume_identical("kill_bf16", "--precision bf16 --grad-compression bf16");
}

TEST(Resume, AFailedCheckpointWriteSaysSoAndLeavesThePreviousIntact) {
  const std::string dir = fresh_dir("full");
  ASSERT_EQ(testing::run_command(train(dir, 20)).status, 0);
  // A file-size limit of 1 MB (the checkpoint is 15 MB) fails every write that follows, as
  // a full disk would.
  const auto r = testing::run_command("ulimit -f 1024; " + train(dir, 40));
  EXPECT_NE(r.status, 0);
  EXPECT_THAT(r.out, HasSubstr("the checkpoint of step 40 was not written"));
  EXPECT_THAT(r.out, HasSubstr("File too large"));
  EXPECT_THAT(r.out, HasSubstr("the newest intact checkpoint is " + dir +
                               "/checkpoints/step-00000020.json"));
  EXPECT_THAT(r.out, HasSubstr("tide: error: the final checkpoint of step 40 was not written"));
  // The earlier checkpoint still loads: the same command without the limit resumes from it.
  const auto again = testing::run_command(train(dir, 40));
  ASSERT_EQ(again.status, 0) << again.out;
  EXPECT_THAT(again.out, HasSubstr("resuming from " + dir + "/checkpoints/step-00000020.json"));
}

TEST(Resume, ACorruptNewestCheckpointIsNamedAndThePreviousOneUsed) {
  const std::string dir = fresh_dir("corrupt");
  ASSERT_EQ(testing::run_command(train(dir, 60)).status, 0);
  {  // flip a byte in the newest checkpoint's tensors
    std::fstream f(final_tensors(dir, 60), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4000);
    f.put('\x7f');
  }
  const auto r = testing::run_command(train(dir, 80));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("skipping checkpoint " + dir + "/checkpoints/step-00000060.json"));
  EXPECT_THAT(r.out, HasSubstr("(corrupt)"));
  EXPECT_THAT(r.out, HasSubstr("resuming from " + dir + "/checkpoints/step-00000040.json"));
  // --resume never starts afresh; a named checkpoint that is bad is an error.
  const auto never = testing::run_command(train(dir, 20) + " --resume never");
  EXPECT_EQ(never.status, 0);
  EXPECT_THAT(never.out, ::testing::Not(HasSubstr("resuming")));
  const auto bad =
      testing::run_command(train(dir, 20) + " --resume " + dir + "/checkpoints/no-such.json");
  EXPECT_NE(bad.status, 0);
  EXPECT_THAT(bad.out, HasSubstr("no-such.json: cannot open"));
}

// Resuming from an older checkpoint starts a new timeline: with --keep-checkpoints 1 its
// step 4 is kept (not deleted for the abandoned step 6), the abandoned checkpoints and a
// stray file named like a newer one move aside whole, and `--resume auto` then continues
// the new run, which ends where the uninterrupted one did, byte for byte.
TEST(Resume, AnOlderCheckpointStartsATimelineThatAutoResumeFollows) {
  const std::string dir = fresh_dir("timeline");
  const auto run = [&](int64_t steps, const std::string& extra) {
    return testing::run_command(
        fmt::format("{} train --model mlp --max-steps {} --threads 1 --seed 4 --lr 0.02 "
                    "--lr-schedule constant --checkpoint-every-steps 2 --run-dir {} {}",
                    kTide, steps, dir, extra));
  };
  ASSERT_EQ(run(6, "").status, 0);
  const std::string original_6 = testing::read_bytes(final_tensors(dir, 6));
  std::ofstream(dir + "/checkpoints/step-99999999.json") << "garbage";
  const auto older =
      run(4, "--keep-checkpoints 1 --resume " + dir + "/checkpoints/step-00000002.json");
  ASSERT_EQ(older.status, 0) << older.out;
  EXPECT_THAT(older.out, HasSubstr("this run continues from step 2: 3 later checkpoints of "
                                   "another run were moved to " +
                                   dir + "/checkpoints/superseded/"));
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir + "/checkpoints"))
    left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"step-00000004.json", "step-00000004.safetensors",
                                            "superseded"}));
  const auto resumed = run(6, "--keep-checkpoints 1");
  ASSERT_EQ(resumed.status, 0) << resumed.out;
  EXPECT_THAT(resumed.out, HasSubstr("resuming from " + dir + "/checkpoints/step-00000004.json"));
  EXPECT_TRUE(testing::read_bytes(final_tensors(dir, 6)) == original_6)
      << "the final tensors differ";
}

}  // namespace
}  // namespace tide
