// TrainingRun: the one training run every application of Tide shares. An application (the
// classifiers of `tide train`, the autoencoder of `tide timeseries train`, an example) supplies
// a TrainingTask: its model, its data, one micro-batch's forward pass and its evaluation. The
// run owns the rest: threads per rank, the stall watchdog, optimizer and schedule, data
// parallelism (DataParallel), resuming from a checkpoint and replicating the parameters, the
// run directory (config.toml, metrics.csv, TensorBoard events, checkpoints,
// model.safetensors, summary.json), the monitored session and its standard hooks, and the
// step itself:
//
//   zero_grad, the step's rate, then per micro-batch: task.forward(), backward (seeded and
//   reduced by DataParallel); finish; the session's control collective; unless the step is
//   skipped (a non-finite loss on a rank): L1, clipping, the optimizer's update.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tide/distributed/communicator.hpp"
#include "tide/distributed/reducer_options.hpp"
#include "tide/nn/module.hpp"
#include "tide/optim/optimizer.hpp"
#include "tide/optim/schedule.hpp"
#include "tide/session/checkpoint.hpp"
#include "tide/session/config.hpp"
#include "tide/session/evaluation.hpp"
#include "tide/session/session.hpp"

namespace tide {

class StallWatchdog;  // distributed/stall_watchdog.hpp

// One micro-batch's forward pass, as the task computed it in training mode.
struct MicroBatch {
  Variable loss;         // a scalar: the mean over the micro-batch's examples
  int64_t examples = 0;  // in the micro-batch
  int64_t correct = 0;   // classifiers: examples predicted right; 0 otherwise
};

// How a run ended, on every rank.
// The Reducer's options of --bucket-mb, --first-bucket-mb and --overlap for `ranks_here`
// ranks on this machine of `threads` each. auto: overlap needs a core for the Reducer's
// thread; where compute threads take them all, an allreduce during backward only takes their
// cycles (measured: bench/README.md).
ReducerOptions reducer_options(const TrainConfig& c, int ranks_here, int threads);

struct RunResult {
  std::string run_dir;
  int64_t steps = 0;
  double epochs = 0;  // steps / steps per epoch
  double wall_s = 0;
  double samples_per_sec = 0;  // training examples per second, all ranks
  int64_t parameters = 0;
  int ranks = 1;
  int64_t global_batch = 0;
  double lr = 0;                            // the base rate after --lr-scaling
  int64_t warmup_steps = 0;                 // of the schedule (--warmup-epochs converted)
  double test_loss = 0, test_accuracy = 0;  // of the last evaluation
  double test_rmse = std::numeric_limits<double>::quiet_NaN();  // regression: of the last
  double test_r2 = std::numeric_limits<double>::quiet_NaN();    // evaluation
  bool regression = false;                                      // so was it
  double train_loss = 0;             // mean over the steps before the last evaluation
  std::string stop_reason;           // why the loop ended ("reached step 938", "SIGTERM received")
  int stopped_by_signal = 0;         // SIGTERM or SIGINT when a signal stopped it, else 0
  std::string checkpoint;            // the last checkpoint written (its JSON)
  std::vector<EpochRecord> history;  // every evaluation of this run, in order
  StepTiming timing;  // the median step on this rank (the first min(5, steps / 2) left out)
};

// What an application supplies to a TrainingRun.
class TrainingTask {
 public:
  virtual ~TrainingTask() = default;
  virtual Module& model() = 0;
  // Micro-batches of one epoch on this rank; every rank must have the same number.
  virtual int64_t batches_per_epoch() const = 0;
  // Readies the data of `epoch` from micro-batch `first` on.
  virtual void start_epoch(int64_t epoch, int64_t first) = 0;
  // Forward of the epoch's next micro-batch.
  virtual MicroBatch forward() = 0;
  // The held-out data's loss (and accuracy) over every rank: a collective.
  virtual EvalResult evaluate() = 0;
  // With --eval-train: training examples evaluated as the held-out data are; empty: none.
  virtual std::function<EvalResult()> evaluate_train() { return nullptr; }
  // One log line of what is trained, for a run of `steps` steps (rank 0 logs it).
  virtual std::string describe(int64_t steps) const = 0;
  // The task's own hooks (after the standard ones), and its own files in the run directory
  // (rank 0, once the directory exists).
  virtual void add_hooks(Session&) {}
  virtual void write_files(const std::string& run_dir) const { (void)run_dir; }
  // summary.json's content.
  virtual nlohmann::ordered_json summary(const RunResult& r) const = 0;
};

// What, besides the task, tells one run from another.
struct RunSpec {
  std::string model_name;   // model.safetensors' "model" metadata ("mlp", "lstm-ae")
  std::string config_toml;  // config.toml before the [run] table: `--config` reads it back
  // Settings every rank must share besides TrainConfig's (a model's or data's own flags).
  std::string agreement;
  std::string model_flags;     // "--model mlp --hidden 64": this run's model, in errors
  bool log_evaluation = true;  // the evaluation hook's log line; a task's hook may log instead
  // Whether the task's steps count correct predictions (a classifier): otherwise the training
  // windows have no accuracy (an empty cell in metrics.csv, no train/accuracy summary).
  bool counts_correct = true;
};

class TrainingRun {
 public:
  // Validates `config` and readies the process: threads per rank (--threads, or the node's
  // cores shared among its ranks), a stall watchdog on 2+ ranks. Construct it before the task,
  // whose data loading uses those threads. `config.run_dir` must be set.
  TrainingRun(TrainConfig config, const Communicator& comm);
  ~TrainingRun();
  TrainingRun(const TrainingRun&) = delete;
  TrainingRun& operator=(const TrainingRun&) = delete;

  const TrainConfig& config() const { return config_; }
  const Communicator& comm() const { return comm_; }

  // Trains `task` to the end (--epochs, --max-steps, a stop), on every rank of the
  // communicator, and writes the run directory (rank 0). Throws when the run diverged or
  // its final checkpoint was not written.
  RunResult train(TrainingTask& task, const RunSpec& spec);

 private:
  TrainConfig config_;
  Communicator comm_;
  std::unique_ptr<StallWatchdog> watchdog_;
};

// Threads per rank for --threads N: N where it is positive; else the CPUs Slurm gives each task
// (SLURM_CPUS_PER_TASK, from srun or sbatch -c; at most the CPUs this process may run on);
// else the node's cores shared among its ranks.
int default_threads(int threads);
// --epochs of `per_epoch` steps, or fewer by --max-steps.
int64_t total_steps(const TrainConfig& c, int64_t per_epoch);
// The schedule's options with --warmup-epochs turned into warm-up steps.
ScheduleOptions schedule_options(const TrainConfig& c, int64_t per_epoch);

// Where a run starts: step 0, or the checkpoint --resume names (auto: the newest in `store`),
// loaded into model, optimizer and schedule. Every rank must resume at the same step.
struct ResumePoint {
  TrainingState state;
  std::string from;  // the checkpoint's path, empty when starting afresh
};
// `model_flags` ("--model mlp --hidden 64") describe this run's model in the message of a
// checkpoint written for another.
ResumePoint resume_run(const TrainConfig& c, CheckpointStore& store, const std::string& config_hash,
                       Module& model, Optimizer& optimizer, LrSchedule& schedule,
                       const Communicator& comm, const std::string& model_flags);

// The [run] table of config.toml: what the run derived, not read back.
std::string run_toml(int ranks, int64_t global_batch, double lr);

}  // namespace tide
