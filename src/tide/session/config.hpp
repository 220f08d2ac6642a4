// Configuration of a training run. The CLI fills it from flags and a TOML file; library
// users fill it directly.
#pragma once

#include <cstdint>
#include <string>

#include "tide/data/augment.hpp"
#include "tide/optim/schedule.hpp"

namespace tide {

struct TrainConfig {
  std::string model = "mlp";              // see models.hpp
  std::string dataset = "fashion-mnist";  // fashion-mnist | mnist | folder
  std::string data_dir;                   // empty: the dataset's default location
  int64_t image_size = 64;                // folder: images are resized and cropped to this
  int64_t train_examples = 0;             // train on the first N training examples; 0: all
  int64_t eval_train = 0;  // after each evaluation, also evaluate the first N training
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
  std::string optimizer = "sgd";  // sgd | adam | adamw | rmsprop | adagrad | lars
  double lr = 0.01;
  double momentum = 0.9;  // sgd, rmsprop, lars
  double weight_decay = 0;
  bool nesterov = false;
  double beta1 = 0.9, beta2 = 0.999;  // adam, adamw
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
  int threads = 0;          // 0: one per core
  std::string run_dir;      // empty: runs/<model>-<dataset>-<time>
  int64_t log_every = 100;  // steps between rows of metrics.csv
  int prefetch = 2;         // batches prepared ahead by the loader thread

  // Data parallelism (under mpirun; see docs/ARCHITECTURE.md). batch_size is per rank; the
  // global batch of one step is batch_size * ranks * accumulate.
  int64_t accumulate = 1;           // micro-batches summed before one gradient reduction
  std::string lr_scaling = "none";  // none | linear | sqrt: lr times (global / base batch)^p
  int64_t lr_base_batch = 0;        // the batch lr is meant for; 0: batch_size
  int teams = 1;                    // groups of ranks that train independently
  std::string team_flag;            // the flag each team sets to its own value ...
  std::string team_values;          // ... from this comma-separated list, one per team
  double stall_timeout = 120;       // seconds in one collective before a rank reports it
  double bucket_mb = 25;            // gradient bucket size of the Reducer
  double first_bucket_mb = 1;       // its first, small bucket
  // Reduce gradient buckets during backward: on, off, or auto (on unless the node's cores
  // are all taken by compute threads, where the allreduce would only slow them down).
  std::string overlap = "auto";

  // The monitored session: checkpoints in <run-dir>/checkpoints, resume, guards.
  double checkpoint_every_secs = 600;  // 0: not by time
  int64_t checkpoint_every_steps = 0;  // 0: not by steps
  int keep_checkpoints = 3;            // the newest kept; 0 keeps all
  std::string resume = "auto";         // auto | never | a checkpoint's path
  std::string nan_policy = "stop";     // stop | skip: a step whose loss is not finite
  int64_t early_stopping = 0;          // evaluations without a better test loss; 0: off
  int64_t summary_every_steps = 100;   // TensorBoard scalars; 0: none
};

// The examples of one step over all ranks: batch_size * accumulate * ranks; throws naming
// the flags when the product does not fit in 64 bits.
int64_t global_batch(const TrainConfig& config, int ranks);

// The learning-rate multiplier of --lr-scaling for a global batch.
double lr_scale_factor(const TrainConfig& config, int64_t global_batch);

// Throws tide::Error naming the option (as its flag, e.g. --batch-size) when a value is out
// of range.
void validate(const TrainConfig& config);

// `s` as a TOML basic string: quoted, with quotes, backslashes, newlines and tabs escaped.
std::string toml_string(const std::string& s);

// The configuration as TOML, one `key = value` per line with the flag names as keys, so the
// file can be passed back with --config to repeat the run.
std::string to_toml(const TrainConfig& config);
// Only the keys of the optimizer, its schedule and the run (epochs, batch, checkpoints, ...):
// what trainers other than `tide train` take of a TrainConfig.
std::string optimizer_and_run_toml(const TrainConfig& config);

}  // namespace tide
