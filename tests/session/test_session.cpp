// The Session's loop and its hooks, on a step function that only counts: when hooks run,
// how stops are requested, where epochs turn, what the checkpoint hook writes, and how the
// non-finite-loss guard and early stopping decide.
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"
#include "tide/session/hooks.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Records every call, as "begin", "before 0", "after 1", "epoch 1", "end".
class Recorder : public Hook {
 public:
  void begin(Session&) override { calls.push_back("begin"); }
  void before_step(Session& s) override {
    calls.push_back(fmt::format("before {}", s.state().step));
  }
  void after_step(Session& s, const StepResult&) override {
    calls.push_back(fmt::format("after {}", s.state().step));
  }
  void end_epoch(Session& s) override { calls.push_back(fmt::format("epoch {}", s.state().epoch)); }
  void end(Session&) override { calls.push_back("end"); }
  std::vector<std::string> calls;
};

// A state `step` steps in: `epoch`, `batch` batches into it.
TrainingState at(int64_t step, int64_t epoch, int64_t batch) {
  TrainingState s;
  s.step = step;
  s.epoch = epoch;
  s.batch = batch;
  return s;
}

struct Loop {
  std::vector<std::pair<int64_t, int64_t>> epochs_started;  // (epoch, first batch)
  Session session;
  explicit Loop(TrainingState start = {}, int64_t per_epoch = 3, int64_t batches_per_step = 1)
      : session(Communicator::solo(), start, per_epoch, batches_per_step,
                [this](int64_t e, int64_t b) { epochs_started.emplace_back(e, b); }) {}
};

StepResult ok_step(Session&) {
  return StepResult{.loss = 1.0, .examples = 4, .correct = 2};
}

TEST(Session, HooksRunInOrderAndEpochsTurn) {
  Loop loop;
  auto rec = std::make_shared<Recorder>();
  loop.session.add_hook(rec);
  loop.session.add_hook(std::make_shared<StopAtStepHook>(4));
  loop.session.run(ok_step);
  EXPECT_THAT(rec->calls,
              ElementsAre("begin", "before 0", "after 1", "before 1", "after 2", "before 2",
                          "after 3", "epoch 1", "before 3", "after 4", "end"));
  EXPECT_EQ(loop.session.state().step, 4);
  EXPECT_EQ(loop.session.state().epoch, 1);
  EXPECT_EQ(loop.session.state().batch, 1);
  EXPECT_EQ(loop.session.stop_reason(), "reached step 4");
  EXPECT_THAT(loop.epochs_started,
              ElementsAre(std::pair<int64_t, int64_t>{0, 0}, std::pair<int64_t, int64_t>{1, 0}));
}

TEST(Session, StartsWhereAResumedStateSays) {
  // Step 7 of epochs of 3 steps of 2 micro-batches: epoch 2, 2 batches in.
  Loop loop(at(7, 2, 2), 3, 2);
  loop.session.add_hook(std::make_shared<StopAtEpochHook>(3));
  loop.session.run(ok_step);
  EXPECT_THAT(loop.epochs_started, ElementsAre(std::pair<int64_t, int64_t>{2, 2}));
  EXPECT_EQ(loop.session.state().step, 9);  // the two steps left in epoch 2
  EXPECT_EQ(loop.session.stop_reason(), "reached epoch 3");
}

TEST(Session, AHookCanStopBeforeTheFirstStep) {
  Loop loop(at(10, 0, 0));
  loop.session.add_hook(std::make_shared<StopAtStepHook>(10));
  int steps = 0;
  loop.session.run([&](Session&) {
    ++steps;
    return StepResult{};
  });
  EXPECT_EQ(steps, 0);
  EXPECT_TRUE(loop.epochs_started.empty());
}

TEST(Session, NanGuardStopsOrSkips) {
  auto nan_at_2 = [](Session& s) {
    StepResult r = ok_step(s);
    if (s.state().step == 2) {
      r.loss = std::nan("");
      r.skipped = true;
    }
    return r;
  };
  Loop stop;
  stop.session.add_hook(std::make_shared<NanGuardHook>(false));
  stop.session.add_hook(std::make_shared<StopAtStepHook>(10));
  stop.session.run(nan_at_2);
  EXPECT_EQ(stop.session.state().step, 3);
  EXPECT_THAT(stop.session.stop_reason(), HasSubstr("the loss is nan at step 3"));

  Loop skip;
  auto guard = std::make_shared<NanGuardHook>(true, 2);
  skip.session.add_hook(guard);
  skip.session.add_hook(std::make_shared<StopAtStepHook>(10));
  ::testing::internal::CaptureStderr();
  skip.session.run(nan_at_2);
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), HasSubstr("step 3 skipped"));
  EXPECT_EQ(skip.session.state().step, 10);
  EXPECT_EQ(guard->skipped(), 1);

  Loop always;  // every step non-finite: two in a row stop the run
  always.session.add_hook(std::make_shared<NanGuardHook>(true, 2));
  ::testing::internal::CaptureStderr();
  always.session.run([](Session&) { return StepResult{.loss = INFINITY, .skipped = true}; });
  ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(always.session.stop_reason(), HasSubstr("2 steps in a row"));
}

TEST(Session, CheckpointHookWritesEveryNStepsAndAtTheEnd) {
  const std::string dir = (fs::path(::testing::TempDir()) / "tide_session_ckpt").string();
  fs::remove_all(dir);
  Loop loop;
  int calls = 0;
  auto hook = std::make_shared<CheckpointHook>(
      CheckpointStore(dir, 0), 0.0, 4,
      [&] {
        ++calls;
        return std::pair{TensorMap{{"w", Tensor::full({2}, calls)}}, TensorMap{}};
      },
      TrainingState{.seed = 9, .world_size = 1, .config_hash = "h"});
  loop.session.add_hook(std::make_shared<StopAtStepHook>(10));
  loop.session.add_hook(hook);
  loop.session.run(ok_step);
  const std::vector<std::string> written = CheckpointStore(dir, 0).list();
  ASSERT_EQ(written.size(), 3u);  // steps 4, 8 and the end, 10
  EXPECT_THAT(written[0], HasSubstr("step-00000010.json"));
  const Checkpoint last = CheckpointStore::load(written[0]);
  EXPECT_EQ(last.state.step, 10);
  EXPECT_EQ(last.state.epoch, 3);  // 10 steps of epochs of 3: epoch 3, 1 batch in
  EXPECT_EQ(last.state.batch, 1);
  EXPECT_EQ(last.state.seed, 9u);
  EXPECT_EQ(last.model.at("w").to_vector(), std::vector<double>(2, 3.0));
  EXPECT_EQ(hook->last_path(), written[0]);
}

TEST(Session, EarlyStoppingAfterPatienceEvaluationsWithoutImprovement) {
  Loop loop(TrainingState{}, 1);  // an epoch is one step: one evaluation a step
  const double losses[] = {1.0, 0.8, 0.9, 0.85, 0.95, 0.5};
  int evaluated = 0;
  auto eval = std::make_shared<EvaluationHook>(
      [&] { return EvalResult{.loss = losses[evaluated++], .accuracy = 0.5, .examples = 1}; },
      nullptr, [] { return 0.1; }, false);
  loop.session.add_hook(eval);
  loop.session.add_hook(std::make_shared<EarlyStoppingHook>(3));
  loop.session.add_hook(std::make_shared<StopAtStepHook>(6));
  loop.session.run(ok_step);
  EXPECT_EQ(evaluated, 5);  // the best, 0.8, was not beaten by 0.9, 0.85, 0.95
  EXPECT_THAT(loop.session.stop_reason(), HasSubstr("not improved on 0.8000 for 3"));
}

}  // namespace
}  // namespace tide
