// The parts every data-parallel training run of Tide shares, whatever it trains (the
// classifiers of `tide train`, the autoencoder of `tide timeseries train`): threads per
// rank, optimizer, Reducer, resuming from a checkpoint, the update after backward, and the
// monitored session's standard hooks.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "tide/distributed/communicator.hpp"
#include "tide/distributed/reducer.hpp"
#include "tide/nn/module.hpp"
#include "tide/optim/optimizer.hpp"
#include "tide/optim/schedule.hpp"
#include "tide/session/checkpoint.hpp"
#include "tide/session/config.hpp"
#include "tide/session/evaluation.hpp"
#include "tide/session/hooks.hpp"
#include "tide/session/session.hpp"

namespace tide {

// Threads per rank when --threads is 0: the node's cores shared among its ranks.
int default_threads(const TrainConfig& c);

// The optimizer of --optimizer and its flags, at rate `lr`.
std::unique_ptr<Optimizer> make_configured_optimizer(const Module& model, const TrainConfig& c,
                                                     double lr);

// --epochs of `per_epoch` steps, or fewer by --max-steps.
int64_t total_steps(const TrainConfig& c, int64_t per_epoch);
// The schedule's options with --warmup-epochs turned into warm-up steps.
ScheduleOptions schedule_options(const TrainConfig& c, int64_t per_epoch);

// The Reducer of a run on 2+ ranks (none on one), and whether it overlaps backward.
struct GradientAveraging {
  std::optional<Reducer> reducer;
  bool overlap = false;
};
void make_reducer(GradientAveraging& out, const Module& model, const Communicator& comm,
                  const TrainConfig& c);

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

// After backward and the Reducer: agrees on a non-finite loss over the ranks (then the step is
// skipped), else applies L1, clipping and the optimizer's update. `summaries` says whether to
// measure the gradient norm. Fills r.skipped and r.grad_norm.
void apply_update(StepResult& r, bool nonfinite, bool want_grad_norm, const Module& model,
                  Optimizer& optimizer, const TrainConfig& c, const Communicator& comm,
                  int64_t step);

// The hooks of a monitored run: stop at `total` steps, the non-finite guard, metrics.csv and
// the progress line, evaluation after each epoch, the plateau schedule and early stopping
// when configured, TensorBoard summaries and checkpoints. rank 0 writes.
struct StandardHooks {
  std::shared_ptr<NanGuardHook> nan_guard;
  std::shared_ptr<EvaluationHook> evaluation;
  std::shared_ptr<SummaryHook> summaries;
  std::shared_ptr<CheckpointHook> checkpoints;
};
struct HookInputs {
  int64_t total = 0;
  MetricsWriter* metrics = nullptr;
  Progress* progress = nullptr;
  EventWriter* events = nullptr;
  bool writer = false;
  std::function<EvalResult()> evaluate;
  std::function<EvalResult()> evaluate_train;  // may be empty
  bool log_evaluation = true;
  std::function<std::pair<TensorMap, TensorMap>()> snapshot;  // rank 0: model, optimizer
};
StandardHooks add_standard_hooks(Session& session, const HookInputs& in, const TrainConfig& c,
                                 CheckpointStore& store, const TrainingState& start,
                                 LrSchedule& schedule, const Optimizer& optimizer);

// After the loop, rank 0: fails when the final checkpoint was not written.
void check_final_checkpoint(const StandardHooks& hooks, bool writer, int64_t steps);
// After the files are written: fails when the run stopped on non-finite losses.
void check_not_diverged(const StandardHooks& hooks, const Session& session);

// The [run] table of config.toml: what the run derived, not read back.
std::string run_toml(int ranks, int64_t global_batch, double lr);

}  // namespace tide
