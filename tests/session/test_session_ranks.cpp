// The Session on 1, 2 and 3 ranks: one control collective a step carries every rank's
// result and flags, so the hooks' window sums need none of their own; a non-finite loss on
// one rank skips the update on all; a signal on one rank stops every rank at the same step.
#include <csignal>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tide/session/hooks.hpp"

namespace tide {
namespace {

using ::testing::HasSubstr;

const Communicator& world() {
  return Communicator::world();
}

// Rank r's loss at step s (0-based): distinct on every rank and step, exact in binary.
double loss_of(int rank, int64_t step) {
  return 0.25 * (rank + 1) + 0.5 * static_cast<double>(step);
}

StepResult step_of(Session& s) {
  const int rank = s.comm().rank();
  return StepResult{.loss = loss_of(rank, s.state().step), .examples = 4 + rank, .correct = rank};
}

// Keeps what the session handed to the hooks.
class Watcher : public Hook {
 public:
  void after_evaluation(Session&, const EpochRecord& r) override { records.push_back(r); }
  std::vector<EpochRecord> records;
};

TEST(SessionRanks, OneControlCollectiveAStepCarriesEveryRanksResults) {
  const int ranks = world().size();
  Session session(world(), TrainingState{}, 3, 1, [](int64_t, int64_t) {});
  session.add_hook(std::make_shared<StopAtStepHook>(6));
  // Metrics and summaries every step, an evaluation every 3: before the redesign each of
  // these summed its window with a collective of its own, besides the loss check and the
  // stop agreement of every step (4 collectives a step here).
  session.add_hook(std::make_shared<MetricsHook>(1, nullptr, nullptr, [] { return 0.1; }));
  session.add_hook(std::make_shared<EvaluationHook>(
      [] { return EvalResult{.loss = 1, .accuracy = 0.5, .examples = 1}; }, nullptr,
      [] { return 0.1; }, false));
  session.add_hook(std::make_shared<SummaryHook>(1, nullptr, [] { return 0.1; }));
  auto watcher = std::make_shared<Watcher>();
  session.add_hook(watcher);
  const int64_t before = world().collectives();
  session.run(step_of);
  const int64_t collectives = world().collectives() - before;
  // One a step, and one at the end for a signal that came after the last step's.
  EXPECT_EQ(collectives, ranks > 1 ? 6 + 1 : 0);
  ASSERT_EQ(watcher->records.size(), 2u);
  // The first evaluation's training loss: the mean over every rank's steps 0, 1, 2.
  double sum = 0;
  for (int r = 0; r < ranks; ++r)
    for (int64_t s = 0; s < 3; ++s) sum += loss_of(r, s);
  EXPECT_DOUBLE_EQ(watcher->records[0].train_loss, sum / (3.0 * ranks));
  double correct = 0, examples = 0;
  for (int r = 0; r < ranks; ++r) {
    correct += 3 * r;
    examples += 3 * (4 + r);
  }
  EXPECT_DOUBLE_EQ(watcher->records[0].train_accuracy, correct / examples);
  EXPECT_TRUE(watcher->records[0].end_of_epoch);
  ASSERT_EQ(session.step_results().size(), static_cast<size_t>(ranks));
  for (int r = 0; r < ranks; ++r)
    EXPECT_EQ(session.step_results()[static_cast<size_t>(r)].examples, 4 + r);
}

TEST(SessionRanks, ANonFiniteLossOnOneRankSkipsTheUpdateOnAll) {
  const int last = world().size() - 1;
  Session session(world(), TrainingState{}, 10, 1, [](int64_t, int64_t) {});
  session.add_hook(std::make_shared<NanGuardHook>(true));
  session.add_hook(std::make_shared<StopAtStepHook>(5));
  int updates = 0;
  ::testing::internal::CaptureStderr();
  session.run(
      [&](Session& s) {
        StepResult r = step_of(s);
        if (s.state().step == 2 && s.comm().rank() == last) r.skipped = true;  // NaN here only
        return r;
      },
      [&](Session&, StepResult& r) { updates += r.skipped ? 0 : 1; });
  ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(updates, 4);  // on every rank, not only the last
  EXPECT_EQ(session.state().step, 5);
}

// Last in this file: the signal flag stays set for the rest of the process.
TEST(SessionRanks, ASignalOnOneRankStopsEveryRankAtTheSameStep) {
  const int ranks = world().size();
  const int last = ranks - 1;
  Session::catch_termination_signals();
  Session session(world(), TrainingState{}, 10, 1, [](int64_t, int64_t) {});
  session.add_hook(std::make_shared<StopAtStepHook>(8));
  int applied = 0;
  session.run(
      [&](Session& s) {
        if (s.state().step == 3 && s.comm().rank() == last) std::raise(SIGTERM);
        return step_of(s);
      },
      [&](Session&, StepResult&) { ++applied; });
  // The signal came during step 4 (index 3): on the rank that got it and on one rank alone,
  // that step is not applied; the others learn of it from its control collective.
  EXPECT_EQ(session.state().step, 3);
  EXPECT_EQ(applied, 3);
  EXPECT_EQ(Session::termination_signal(), SIGTERM);
  if (world().rank() == last)
    EXPECT_EQ(session.stop_reason(), "SIGTERM received");
  else
    EXPECT_THAT(session.stop_reason(), HasSubstr("SIGTERM received by another rank"));
}

}  // namespace
}  // namespace tide
