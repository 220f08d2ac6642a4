// The built-in hooks of a training Session (session.hpp): stopping, checkpoints, metrics and
// the progress line, evaluation, early stopping, and the guard against a non-finite loss.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tide/autograd/variable.hpp"
#include "tide/optim/schedule.hpp"
#include "tide/report/event_writer.hpp"
#include "tide/report/metrics.hpp"
#include "tide/report/progress.hpp"
#include "tide/session/checkpoint.hpp"
#include "tide/session/evaluation.hpp"
#include "tide/session/session.hpp"

namespace tide {

// Stops once `last` steps are done.
class StopAtStepHook : public Hook {
 public:
  explicit StopAtStepHook(int64_t last) : last_(last) {}
  void begin(Session& s) override { check(s); }
  void after_step(Session& s, const StepResult&) override { check(s); }

 private:
  void check(Session& s);
  int64_t last_;
};

// Stops once `epochs` epochs are done.
class StopAtEpochHook : public Hook {
 public:
  explicit StopAtEpochHook(int64_t epochs) : epochs_(epochs) {}
  void begin(Session& s) override;
  void end_epoch(Session& s) override;

 private:
  int64_t epochs_;
};

// A step whose loss was not finite did not update the parameters (the step function skips
// it on every rank). With `skip` false the run stops with a message that names the step;
// with `skip` true it goes on, and stops after `max_skips` skips in a row.
class NanGuardHook : public Hook {
 public:
  NanGuardHook(bool skip, int64_t max_skips = 10) : skip_(skip), max_skips_(max_skips) {}
  void after_step(Session& s, const StepResult& r) override;
  int64_t skipped() const { return total_; }
  // Whether the session stopped for this hook's reason (the run diverged).
  bool stopped(const Session& s) const { return !reason_.empty() && s.stop_reason() == reason_; }

 private:
  bool skip_;
  int64_t max_skips_, in_a_row_ = 0, total_ = 0;
  std::string reason_;  // of the stop it requested
};

// Writes a checkpoint (rank 0 only) every `every_secs` seconds and/or every `every_steps`
// steps (0 turns either off), and at the end of the run. A failed write is logged with the
// reason and the checkpoint that stays intact, and training goes on.
class CheckpointHook : public Hook {
 public:
  using Tensors = std::function<std::pair<TensorMap, TensorMap>()>;  // model, optimizer
  // `schedule_state`, when given, is saved as the state's lr_schedule.
  CheckpointHook(CheckpointStore store, double every_secs, int64_t every_steps, Tensors tensors,
                 TrainingState identity,
                 std::function<std::vector<double>()> schedule_state = nullptr);
  void begin(Session& s) override;
  void after_step(Session& s, const StepResult&) override;
  void end(Session& s) override;
  // The JSON path of the last checkpoint written (empty if none).
  const std::string& last_path() const { return last_path_; }
  // The reason the last write failed, if it did.
  const std::string& last_error() const { return last_error_; }

 private:
  void save(Session& s);
  CheckpointStore store_;
  double every_secs_;
  int64_t every_steps_;
  Tensors tensors_;
  std::function<std::vector<double>()> schedule_state_;
  TrainingState identity_;  // seed, world size, config hash
  double last_time_ = 0;
  int64_t last_step_ = -1;
  std::string last_path_, last_error_;
};

// Training loss, accuracy and throughput over windows of `every` steps, summed over the
// ranks: a row of metrics.csv (rank 0) per window; the progress line (rank 0) every step.
class MetricsHook : public Hook {
 public:
  // Without `accuracy` (a task whose steps do not count correct predictions) the rows' accuracy
  // cell is empty.
  MetricsHook(int64_t every, MetricsWriter* writer, Progress* progress, std::function<double()> lr,
              bool accuracy = true);
  void after_step(Session& s, const StepResult& r) override;
  void end_epoch(Session&) override;

 private:
  int64_t every_;
  MetricsWriter* writer_;
  Progress* progress_;
  std::function<double()> lr_;
  bool accuracy_;
  StepSums window_;
  double window_start_ = 0;
};

// Evaluates after every epoch and after the last step (not when a signal stopped the run),
// writes a `test` row (and, given `evaluate_train`, a `train-eval` row), logs it when `log`,
// and reports it to the session, which hands it to every hook (after_evaluation).
class EvaluationHook : public Hook {
 public:
  EvaluationHook(std::function<EvalResult()> evaluate, MetricsWriter* writer,
                 std::function<double()> lr, bool log,
                 std::function<EvalResult()> evaluate_train = nullptr);
  void after_step(Session& s, const StepResult&) override { epoch_.add(s.step_results()); }
  void end_epoch(Session& s) override;
  void end(Session& s) override;

 private:
  void run(Session& s, int64_t epoch, bool end_of_epoch);
  std::function<EvalResult()> evaluate_, evaluate_train_;
  MetricsWriter* writer_;
  std::function<double()> lr_;
  bool log_;
  int64_t last_step_ = -1;
  StepSums epoch_;  // the steps since the last evaluation
};

// --lr-schedule plateau: after each end-of-epoch evaluation, gives the schedule the test
// loss; logs a reduction of the rate.
class PlateauHook : public Hook {
 public:
  PlateauHook(LrSchedule& schedule, bool log) : schedule_(schedule), log_(log) {}
  void after_evaluation(Session& s, const EpochRecord& r) override;

 private:
  LrSchedule& schedule_;
  bool log_;
};

// TensorBoard scalars (rank 0 writes): every `every` steps train/loss, train/accuracy (over
// those steps, summed over the ranks), train/grad_norm (of the step's averaged gradients),
// lr and samples_per_sec; after every evaluation test/loss and test/accuracy.
class SummaryHook : public Hook {
 public:
  // Without `accuracy`, no train/accuracy.
  SummaryHook(int64_t every, EventWriter* writer, std::function<double()> lr, bool accuracy = true);
  void after_step(Session& s, const StepResult& r) override;
  void after_evaluation(Session& s, const EpochRecord& r) override;
  // Whether the step after `step` steps is one whose gradient norm is summarised.
  bool wants_grad_norm(int64_t step) const { return every_ > 0 && (step + 1) % every_ == 0; }

 private:
  int64_t every_;
  EventWriter* writer_;
  std::function<double()> lr_;
  bool accuracy_;
  StepSums window_;
  double window_start_ = -1;
};

// Histograms of every parameter and its gradient (the averaged one, as the update used it)
// every `every` steps, as weights/<name> and gradients/<name>; rank 0 writes them.
class HistogramHook : public Hook {
 public:
  using Parameters = std::function<std::vector<std::pair<std::string, Variable>>()>;
  HistogramHook(int64_t every, EventWriter* writer, Parameters parameters);
  void after_step(Session& s, const StepResult& r) override;

 private:
  int64_t every_;
  EventWriter* writer_;
  Parameters parameters_;
};

// Stops when the end-of-epoch evaluation's loss has not improved for `patience` evaluations
// in a row.
class EarlyStoppingHook : public Hook {
 public:
  explicit EarlyStoppingHook(int64_t patience) : patience_(patience) {}
  void after_evaluation(Session& s, const EpochRecord& r) override;

 private:
  int64_t patience_, without_improvement_ = 0;
  double best_ = 0;
  bool any_ = false;
};

}  // namespace tide
