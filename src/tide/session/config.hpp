// Configuration of a training run. The CLI fills it from flags and a TOML file; library
// users fill it directly. Its options are declared once, in the tables of config.cpp (name,
// flag, help, limits), from which validate(), to_toml() and the CLI's flags all come.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tide/core/options.hpp"
#include "tide/core/precision.hpp"
#include "tide/data/augment.hpp"
#include "tide/distributed/reducer_options.hpp"
#include "tide/optim/factory.hpp"
#include "tide/optim/schedule.hpp"

namespace tide {

// The learning rate times (global batch / base batch)^p: p = 0, 1 or 1/2.
enum class LrScaling { none, linear, sqrt };
constexpr std::array<std::string_view, 3> choice_names(LrScaling) {
  return {"none", "linear", "sqrt"};
}

// Reduce gradient buckets during backward: on, off, or auto (on unless the node's cores are
// all taken by compute threads, where the allreduce would only slow them down).
enum class Overlap { automatic, on, off };
constexpr std::array<std::string_view, 3> choice_names(Overlap) {
  return {"auto", "on", "off"};
}

// What `tide train` learns: a class per example, or values (regression, --dataset csv or
// arrays).
enum class Task { classification, regression };
constexpr std::array<std::string_view, 2> choice_names(Task) {
  return {"classification", "regression"};
}

// The training loss: cross-entropy for classification; mean squared error or Huber for
// regression; auto picks cross-entropy or mse by the task.
enum class LossKind { automatic, cross_entropy, mse, huber };
constexpr std::array<std::string_view, 4> choice_names(LossKind) {
  return {"auto", "cross-entropy", "mse", "huber"};
}

// A step whose loss is not finite: stop the run, or skip the step.
enum class NanPolicy { stop, skip };
constexpr std::array<std::string_view, 2> choice_names(NanPolicy) {
  return {"stop", "skip"};
}

// Where a run starts: the newest good checkpoint of its run directory ("auto"), afresh
// ("never"), or the checkpoint at `path` (any other text).
struct ResumeFrom {
  enum class Mode { automatic, never, path };
  Mode mode = Mode::automatic;
  std::string path;
  static ResumeFrom never() { return {.mode = Mode::never, .path = {}}; }
  bool operator==(const ResumeFrom&) const = default;
};
std::string to_text(const ResumeFrom& r);
void from_text(const std::string& text, ResumeFrom& r);  // throws for an empty text

struct TrainConfig {
  std::string model = "mlp";              // a shipped model file (models/NAME.toml)
  std::string model_file;                 // a model file of the user's; wins over `model`
  std::string dataset = "fashion-mnist";  // fashion-mnist | mnist | folder | csv | arrays
  Task task = Task::classification;
  std::string target;  // csv: the label column, or the target columns (a,b); empty: the last
  LossKind loss = LossKind::automatic;
  double huber_delta = 1.0;
  std::string data_dir;        // empty: the dataset's default location
  int64_t image_size = 64;     // folder: images are resized and cropped to this
  int64_t train_examples = 0;  // train on the first N training examples; 0: all
  int64_t eval_train = 0;      // after each evaluation, also evaluate the first N training
                               // examples in eval mode (no augmentation); -1: all; 0: off
  int64_t epochs = 5;
  int64_t max_steps = 0;  // stop after this many steps; 0: no limit
  int64_t batch_size = 64;
  int64_t hidden = 1024;    // mlp: units per hidden layer
  double dropout = 0;       // mlp: dropout after each hidden layer
  bool batch_norm = false;  // mlp: batch normalisation in each hidden layer
  // Perturbation of training inputs (--noise, --shift, --crop, --flip, --erase); the seed
  // and the background fill are set by the trainer.
  AugmentOptions augment;
  OptimizerKind optimizer = OptimizerKind::sgd;
  double lr = 0.01;
  double momentum = 0.9;  // sgd, rmsprop, lars
  double weight_decay = 0;
  bool nesterov = false;
  double beta1 = 0.9, beta2 = 0.999;  // adam, adamw
  bool amsgrad = false;               // adam, adamw: by the largest second moment so far
  double eps = 0;                     // 0: the optimizer's default
  double lars_trust = 0.001;          // lars's trust coefficient
  double l1 = 0;                      // L1 penalty on weights (not biases, norm parameters)
  double clip_norm = 0;               // clip the gradients' total L2 norm to this; 0: off
  double clip_value = 0;              // clamp each gradient element to +-this; 0: off
  double label_smoothing = 0;         // cross-entropy against (1 - eps) onehot + eps / C
  bool no_decay_bias_norm = false;    // weight decay only on parameters of 2+ dimensions
  ScheduleOptions schedule;           // --lr-schedule, --warmup-steps, --min-lr
  double warmup_epochs = 0;           // warm-up in epochs (sets the schedule's warm-up steps)
  uint64_t seed = 0;
  int threads = 0;          // 0: default_threads() decides
  std::string run_dir;      // empty: runs/<model>-<dataset>-<time>
  int64_t log_every = 100;  // steps between rows of metrics.csv
  int prefetch = 2;         // batches prepared ahead by the loader thread
  // bf16: the products of autograd/autocast.cpp's table compute in bf16 (parameters,
  // optimizer state and checkpoints stay f32); f32 where the processor lacks native bf16.
  Precision precision = Precision::f32;

  // Data parallelism (under mpirun; see docs/ARCHITECTURE.md). batch_size is per rank; the
  // global batch of one step is batch_size * ranks * accumulate.
  int64_t accumulate = 1;  // micro-batches summed before one gradient reduction
  LrScaling lr_scaling = LrScaling::none;
  int64_t lr_base_batch = 0;   // the batch lr is meant for; 0: batch_size
  int teams = 1;               // groups of ranks that train independently
  std::string team_flag;       // the flag each team sets to its own value ...
  std::string team_values;     // ... from this comma-separated list, one per team
  double stall_timeout = 120;  // seconds in one collective before a rank reports it
  double bucket_mb = 25;       // gradient bucket size of the Reducer
  double first_bucket_mb = 1;  // its first, small bucket
  Overlap overlap = Overlap::automatic;
  GradCompression grad_compression = GradCompression::none;  // what the Reducer sends

  // The monitored session: checkpoints in <run-dir>/checkpoints, resume, guards.
  double checkpoint_every_secs = 600;  // 0: not by time
  int64_t checkpoint_every_steps = 0;  // 0: not by steps
  int keep_checkpoints = 3;            // the newest kept; 0 keeps all
  ResumeFrom resume;
  NanPolicy nan_policy = NanPolicy::stop;
  int64_t early_stopping = 0;         // evaluations without a better test loss; 0: off
  int64_t summary_every_steps = 100;  // TensorBoard scalars; 0: none
  int64_t histogram_every_steps = 0;  // TensorBoard histograms of parameters, gradients
  // The timeline (session/trace_file.hpp): a Chrome trace of steps `trace_steps` ("A-B" or
  // "A"; empty: all), to `trace` (relative: in the run directory); empty: none.
  std::string trace;
  std::string trace_steps;

  // Not an option: the hyperparameters `tide experiment` compares, written to the run's
  // TensorBoard events for the hparams plugin (flag name and value as in config.toml).
  std::vector<std::pair<std::string, std::string>> hparams;
};

// The options of a TrainConfig in three groups, named by member: the model, its data and how
// it is perturbed, label smoothing and the parallel layout (classifier options); the optimizer,
// its schedule and gradient regularisation; the run (length, batch, seed, threads, run
// directory, gradient averaging, checkpoints, guards, summaries). options() is all three.
std::vector<Option> classifier_options(TrainConfig& c);
std::vector<Option> optimizer_options(TrainConfig& c);
std::vector<Option> run_options(TrainConfig& c);
std::vector<Option> options(TrainConfig& c);

// The examples of one step over all ranks: batch_size * accumulate * ranks; throws naming
// the options when the product does not fit in 64 bits.
int64_t global_batch(const TrainConfig& config, int ranks);

// The learning-rate multiplier of --lr-scaling for a global batch.
double lr_scale_factor(const TrainConfig& config, int64_t global_batch);

// Throws OptionError naming the option (as its member, e.g. batch_size; the CLI says
// --batch-size) when a value is out of range or options do not go together: all options
// (the classifier's), or only optimizer_options and run_options (any trainer's).
void validate(const TrainConfig& config);
// The loss a run trains with: config.loss, or by the task when it is auto.
LossKind loss_of(const TrainConfig& config);
void validate_optimizer_and_run(const TrainConfig& config);

// The configuration as TOML, one `key = value` per line with the flag names as keys, so the
// file can be passed back with --config to repeat the run.
std::string to_toml(const TrainConfig& config);
// Only the keys of optimizer_options and run_options: what trainers other than `tide train`
// take of a TrainConfig.
std::string optimizer_and_run_toml(const TrainConfig& config);

}  // namespace tide
