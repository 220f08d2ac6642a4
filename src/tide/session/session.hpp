// Session: the step loop of a monitored training run, after TensorFlow's
// MonitoredTrainingSession. The caller gives the step (forward, backward, update); hooks
// watch and steer the loop: they run at its begin, before and after every step, at the end
// of every epoch and at its end, and any of them may request a stop.
//
// On many ranks every rank runs the same session, and each step has one control collective,
// after backward and before the update: every rank's step result (loss, examples, correct)
// and flags (a non-finite loss, a termination signal) travel together, as Horovod carries its
// control messages on a collective that runs anyway. From it every rank knows the whole
// step: the update is skipped on all when the loss was not finite on any, and hooks sum
// their windows over the ranks without a collective of their own. So hooks decide alike on
// every rank (they see the same step results and evaluations), and a stop a hook requests
// ends the loop after the same step everywhere. A signal is the one thing a rank learns
// alone: it reaches the others at the next step's collective, and that step is not applied.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tide/distributed/communicator.hpp"
#include "tide/session/checkpoint.hpp"
#include "tide/session/evaluation.hpp"

namespace tide {

class Session;

// Where one step's time went on this rank, in seconds.
struct StepTiming {
  double forward = 0;   // the forward passes, reading the batches included
  double backward = 0;  // backward, with the allreduces that overlapped it
  double reduce = 0;    // the allreduces left after backward (DataParallel::finish)
  double control = 0;   // the control collective
  double apply = 0;     // clipping and the optimizer
  double step = 0;      // boundary to boundary: the above and the hooks
};

// The median of each field over `timings` from index `skip` on (the first steps warm caches
// and build primitives); zeros when none are left.
StepTiming median_timing(const std::vector<StepTiming>& timings, size_t skip);

// What one step reports to the hooks.
struct StepResult {
  double loss = 0;       // mean over the step's examples on this rank
  int64_t examples = 0;  // on this rank
  int64_t correct = 0;   // examples whose prediction was right (classifiers)
  // The step computes it true for a non-finite loss on this rank; after the control
  // collective it says whether the update was skipped (non-finite on any rank).
  bool skipped = false;
  double grad_norm = -1;  // of the averaged gradients, when the step computed it
  // Forward, backward and reduce from the step; run() adds control and apply before the
  // hooks' after_step, and the whole step after them (Session::timings()).
  StepTiming timing;
};

// Loss, accuracy and example counts of every rank over a window of steps, summed in rank
// order: what the metrics, evaluation and summary hooks each report over their window.
class StepSums {
 public:
  // One step of every rank (Session::step_results()).
  void add(const std::vector<StepResult>& ranks);
  double mean_loss() const;
  double accuracy() const;
  double examples() const;
  double steps() const;
  // This rank's own, for the progress line.
  double mean_loss_of(int rank) const;
  double examples_of(int rank) const;

 private:
  struct Sums {
    double loss = 0, steps = 0, correct = 0, examples = 0;
  };
  Sums total() const;
  std::vector<Sums> ranks_;
};

class Hook {
 public:
  virtual ~Hook() = default;
  virtual void begin(Session&) {}
  virtual void before_step(Session&) {}
  virtual void after_step(Session&, const StepResult&) {}
  // After the last step of an epoch, once its after_step hooks ran; state().epoch is
  // already the next one (the epoch that ended is state().epoch - 1).
  virtual void end_epoch(Session&) {}
  // After an evaluation (Session::report_evaluation), with what it found.
  virtual void after_evaluation(Session&, const EpochRecord&) {}
  // After the loop, whatever ended it.
  virtual void end(Session&) {}
};

class Session {
 public:
  // `state`: where the run starts (step 0, or a checkpoint's state); `steps_per_epoch`: the
  // steps of one epoch; `start_epoch(epoch, first_batch)` readies the data for an epoch
  // from a batch on.
  Session(const Communicator& comm, TrainingState state, int64_t steps_per_epoch,
          int64_t batches_per_step, std::function<void(int64_t, int64_t)> start_epoch);

  void add_hook(std::shared_ptr<Hook> hook);
  // Runs steps until a stop is requested. `compute` runs one step's forward and backward on
  // this rank and reports it; after the step's control collective `apply` updates the
  // parameters, given the agreed result (result.skipped: leave them as they are).
  using Compute = std::function<StepResult(Session&)>;
  using Apply = std::function<void(Session&, StepResult&)>;
  void run(const Compute& compute, const Apply& apply);
  // A step that computes and updates in one (nothing to skip).
  void run(const Compute& step) {
    run(step, [](Session&, StepResult&) {});
  }

  // The step just run, as every rank reported it (index: rank).
  const std::vector<StepResult>& step_results() const { return step_results_; }
  // Hands an evaluation to every hook's after_evaluation, in order, and keeps it.
  void report_evaluation(const EpochRecord& record);
  const std::vector<EpochRecord>& evaluations() const { return evaluations_; }
  // Every applied step's timing on this rank, in order (the first kMaxTimings).
  const std::vector<StepTiming>& timings() const { return timings_; }
  static constexpr size_t kMaxTimings = 100000;

  // Ends the loop after the current step; the first reason given is kept.
  void request_stop(const std::string& reason);
  bool stop_requested() const { return !stop_reason_.empty(); }
  const std::string& stop_reason() const { return stop_reason_; }

  const TrainingState& state() const { return state_; }
  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  const Communicator& comm() const { return comm_; }
  // Seconds since run() began.
  double elapsed() const;

  // SIGTERM and SIGINT become a stop at the next step boundary (a scheduler preempting the
  // job); the signal number is kept for the exit status. Call it on the thread that runs
  // the loop, before starting threads of your own that run kernels: it blocks the signals
  // on this thread and on OpenMP's (threads started from them inherit that), and the loop
  // takes a signal sent to the process or raised on this thread when it reaches a boundary.
  // termination_signal() is the signal the loop took (0: none).
  static void catch_termination_signals();
  static int termination_signal();

 private:
  // The control collective of a step: fills step_results_ and mine.skipped; requests the
  // stop of a signal on any rank.
  void agree_on_step(StepResult& mine);
  // After the loop: every rank learns of a signal another received after the last step.
  void agree_on_signal();
  void stop_for_signal(int signal, bool here);

  Communicator comm_;
  TrainingState state_;
  int64_t steps_per_epoch_, batches_per_step_;
  std::function<void(int64_t, int64_t)> start_epoch_;
  std::vector<std::shared_ptr<Hook>> hooks_;
  std::string stop_reason_;
  double start_s_ = 0;
  std::vector<StepResult> step_results_;
  std::vector<EpochRecord> evaluations_;
  std::vector<StepTiming> timings_;
};

}  // namespace tide
