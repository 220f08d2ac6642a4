// Session: the step loop of a monitored training run, after TensorFlow's
// MonitoredTrainingSession. The caller gives the step (forward, backward, update); hooks
// watch and steer the loop: they run at its begin, before and after every step, at the end
// of every epoch and at its end, and any of them may request a stop.
//
// On many ranks every rank runs the same session. A stop requested on one rank (a signal,
// a non-finite loss) is agreed by all at the next step boundary, so every rank leaves the
// loop after the same step.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tide/distributed/communicator.hpp"
#include "tide/session/checkpoint.hpp"

namespace tide {

class Session;

// What one step reports to the hooks.
struct StepResult {
  double loss = 0;        // mean over the step's examples on this rank
  int64_t examples = 0;   // on this rank
  int64_t correct = 0;    // examples whose prediction was right (classifiers)
  bool skipped = false;   // the update was not applied (a non-finite loss, --nan-policy skip)
  double grad_norm = -1;  // of the averaged gradients, when the step computed it
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
  // Runs steps until a stop is requested. `step` runs one step and reports it.
  void run(const std::function<StepResult(Session&)>& step);

  // Ends the loop after the current step; the first reason given is kept.
  void request_stop(const std::string& reason);
  bool stop_requested() const { return !stop_reason_.empty(); }
  const std::string& stop_reason() const { return stop_reason_; }

  const TrainingState& state() const { return state_; }
  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  const Communicator& comm() const { return comm_; }
  // Seconds since run() began.
  double elapsed() const;

  // SIGTERM and SIGINT set a flag that run() turns into a stop at the next step boundary
  // (a scheduler preempting the job). Installed by the first Session; the signal number
  // is kept for the exit status.
  static void catch_termination_signals();
  static int termination_signal();

 private:
  void agree_on_stop();

  Communicator comm_;
  TrainingState state_;
  int64_t steps_per_epoch_, batches_per_step_;
  std::function<void(int64_t, int64_t)> start_epoch_;
  std::vector<std::shared_ptr<Hook>> hooks_;
  std::string stop_reason_;
  double start_s_ = 0;
};

}  // namespace tide
