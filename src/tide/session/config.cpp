#include "tide/session/config.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tide/core/error.hpp"
#include "tide/models/zoo.hpp"
#include "tide/session/trace_file.hpp"

namespace tide {

std::string to_text(const ResumeFrom& r) {
  switch (r.mode) {
    case ResumeFrom::Mode::automatic:
      return "auto";
    case ResumeFrom::Mode::never:
      return "never";
    case ResumeFrom::Mode::path:
      return r.path;
  }
  return r.path;
}

void from_text(const std::string& text, ResumeFrom& r) {
  check_option(!text.empty(), {"resume"}, "{0} must be auto, never or a checkpoint's path");
  r = text == "auto"    ? ResumeFrom{}
      : text == "never" ? ResumeFrom::never()
                        : ResumeFrom{.mode = ResumeFrom::Mode::path, .path = text};
}

// Upper bounds far above any real run: they keep products of sizes (parameters, global batch,
// bucket bytes) inside 64 bits, and name the option of a mistyped value first.
constexpr double kMaxBatch = 4294967296.0;  // 2^32
constexpr double kMaxHidden = 1048576.0;    // 2^20

std::vector<Option> classifier_options(TrainConfig& c) {
  std::vector<Option> o = {
      option("model", "model", c.model, "Model to train: a shipped model file (models/NAME.toml)")
          .with_choices(model_names()),
      option("model_file", "model-file", c.model_file,
             "Model file (TOML) describing the network to train, instead of --model; see "
             "docs/model-files.md"),
      option("dataset", "dataset", c.dataset, "Dataset")
          .with_choices({"fashion-mnist", "mnist", "folder", "csv", "arrays"}),
      option("task", "task", c.task,
             "classification, or regression (of the --target columns of --dataset csv, or the y "
             "arrays of --dataset arrays)"),
      option("target", "target", c.target,
             "csv: the label column (classification) or target columns a,b (regression), by "
             "name or number (default: the last column)"),
      option("loss", "loss", c.loss,
             "Training loss: auto (cross-entropy to classify, mse to regress), cross-entropy, "
             "mse or huber"),
      option("huber_delta", "huber-delta", c.huber_delta,
             "huber: where the loss turns from quadratic to linear", above(0)),
      option("data_dir", "data-dir", c.data_dir,
             "IDX files, train/ and val/ image folders, a CSV file or directory (csv), or a "
             "directory of .npy files or a safetensors file (arrays) (default: the dataset's "
             "install location)"),
      option("image_size", "image-size", c.image_size,
             "folder: images are resized and cropped to this size", above(0)),
      option("train_examples", "train-examples", c.train_examples,
             "Train on the first N training examples (0: all)", at_least(0).zero_means("all")),
      option("eval_train", "eval-train", c.eval_train,
             "Also evaluate the first N training examples at each evaluation, as the test split "
             "(-1: all; 0: off)",
             at_least(-1)),
      option("hidden", "hidden", c.hidden, "mlp: units per hidden layer",
             above(0).at_most(kMaxHidden)),
      option("dropout", "dropout", c.dropout, "mlp: dropout probability after each hidden layer",
             half_open(0, 1)),
      option("batch_norm", "batch-norm", c.batch_norm, "mlp: batch normalisation in hidden layers"),
  };
  append(o, prefixed("augment.", options(c.augment)));
  append(o, {
                option("label_smoothing", "label-smoothing", c.label_smoothing,
                       "Train against (1 - eps) onehot + eps / classes", half_open(0, 1)),
                option("accumulate", "accumulate", c.accumulate,
                       "Micro-batches whose gradients are summed before one update",
                       above(0).at_most(kMaxBatch)),
                option("teams", "teams", c.teams,
                       "Split the ranks into this many groups that train independently", above(0)),
                option("team_flag", "team-flag", c.team_flag,
                       "The flag whose value differs between teams (e.g. batch-size)"),
                option("team_values", "team-values", c.team_values,
                       "Comma-separated values of --team-flag, one per team"),
            });
  return o;
}

std::vector<Option> optimizer_options(TrainConfig& c) {
  std::vector<Option> o = {
      option("optimizer", "optimizer", c.optimizer, "Optimizer"),
      option("lr", "lr", c.lr, "Learning rate", above(0)),
      option("momentum", "momentum", c.momentum, "SGD momentum", half_open(0, 1)),
      option("weight_decay", "weight-decay", c.weight_decay, "L2 penalty", at_least(0)),
      option("nesterov", "nesterov", c.nesterov, "Use Nesterov momentum"),
      option("beta1", "beta1", c.beta1, "adam, adamw: first-moment decay", half_open(0, 1)),
      option("beta2", "beta2", c.beta2, "adam, adamw: second-moment decay", half_open(0, 1)),
      option("amsgrad", "amsgrad", c.amsgrad,
             "adam, adamw: divide by the largest second moment so far (AMSGrad)"),
      option("eps", "eps", c.eps, "adam, adamw, rmsprop, adagrad: epsilon",
             at_least(0).zero_means("the optimizer's default")),
      option("lars_trust", "lars-trust", c.lars_trust, "lars: trust coefficient", above(0)),
      option("l1", "l1", c.l1, "L1 penalty on weights (not biases or norm parameters)",
             at_least(0)),
      option("clip_norm", "clip-norm", c.clip_norm, "Clip the gradients' total L2 norm to this",
             at_least(0).zero_means("off")),
      option("no_decay_bias_norm", "no-decay-bias-norm", c.no_decay_bias_norm,
             "No weight decay on biases and normalisation parameters (1-D)"),
      option("clip_value", "clip-value", c.clip_value, "Clamp every gradient element to +-this",
             at_least(0).zero_means("off")),
  };
  append(o, prefixed("schedule.", options(c.schedule)));
  append(o, {
                option("warmup_epochs", "warmup-epochs", c.warmup_epochs,
                       "Epochs of linear warm-up before the schedule (instead of --warmup-steps)",
                       at_least(0)),
                option("lr_scaling", "lr-scaling", c.lr_scaling,
                       "Scale --lr with the global batch (of global batch / --lr-base-batch)"),
                option("lr_base_batch", "lr-base-batch", c.lr_base_batch,
                       "The batch --lr is meant for", at_least(0).zero_means("--batch-size")),
            });
  return o;
}

std::vector<Option> run_options(TrainConfig& c) {
  return {
      option("epochs", "epochs", c.epochs, "Passes over the training set", at_least(0)),
      option("max_steps", "max-steps", c.max_steps, "Stop after this many steps",
             at_least(0).zero_means("no limit")),
      option("batch_size", "batch-size", c.batch_size, "Examples per step",
             above(0).at_most(kMaxBatch)),
      option("seed", "seed", c.seed, "Seed of every random stream"),
      option("threads", "threads", c.threads, "Threads",
             at_least(0).at_most(4096).zero_means(
                 "SLURM_CPUS_PER_TASK, else the node's cores shared among its ranks")),
      option("run_dir", "run-dir", c.run_dir,
             "Output directory (default: runs/<model>-<dataset>-<time>)"),
      option("log_every", "log-every", c.log_every, "Steps between metrics rows", above(0)),
      // Each batch ahead is held in memory.
      option("prefetch", "prefetch", c.prefetch, "Batches prepared ahead", closed(0, 1024)),
      option("precision", "precision", c.precision,
             "f32, or bf16: matrix products, convolutions and recurrences in bf16 with f32 "
             "accumulation and f32 weights (f32 where the processor has no native bf16)"),
      option("stall_timeout", "stall-timeout", c.stall_timeout,
             "Seconds a rank may wait in one collective before it reports what it waits on",
             above(0)),
      // Buckets are counted in bytes in an int64: up to a terabyte.
      option("bucket_mb", "bucket-mb", c.bucket_mb, "Gradient bucket size (MB)",
             open_closed(0, 1e6)),
      option("first_bucket_mb", "first-bucket-mb", c.first_bucket_mb,
             "Size of the first, small gradient bucket (MB)", open_closed(0, 1e6)),
      option("overlap", "overlap", c.overlap,
             "Average gradients while backward runs (auto: on unless compute threads take every "
             "core)"),
      option("grad_compression", "grad-compression", c.grad_compression,
             "Gradients on the wire: none (f32), or bf16 (half the bytes, summed in f32)"),
      option("checkpoint_every_secs", "checkpoint-every-secs", c.checkpoint_every_secs,
             "Write a checkpoint every this many seconds", at_least(0).zero_means("not by time")),
      option("checkpoint_every_steps", "checkpoint-every-steps", c.checkpoint_every_steps,
             "Write a checkpoint every this many steps", at_least(0).zero_means("not by steps")),
      option("keep_checkpoints", "keep-checkpoints", c.keep_checkpoints,
             "Checkpoints kept, the newest", at_least(0).zero_means("all")),
      option("resume", "resume", c.resume,
             "auto (the newest good checkpoint of --run-dir), never, or a checkpoint's path"),
      option("nan_policy", "nan-policy", c.nan_policy,
             "A step whose loss is not finite: stop the run, or skip the step"),
      option("early_stopping", "early-stopping", c.early_stopping,
             "Stop after this many evaluations without a lower test loss",
             at_least(0).zero_means("off")),
      option("summary_every_steps", "summary-every-steps", c.summary_every_steps,
             "Write TensorBoard scalars every this many steps",
             at_least(0).zero_means("none but the evaluations' (when histograms or an experiment "
                                    "open an event file)")),
      option("histogram_every_steps", "histogram-every-steps", c.histogram_every_steps,
             "Write TensorBoard histograms of every parameter and its gradient every this many "
             "steps",
             at_least(0).zero_means("none")),
      option("trace", "trace", c.trace,
             "Write a Chrome trace of the steps (open it in Perfetto or chrome://tracing, or read "
             "it with `tide profile`) to this file; a relative path is in the run directory"),
      option("trace_steps", "trace-steps", c.trace_steps,
             "The steps --trace records: A-B, or A (default: all, up to a limit of events)"),
  };
}

std::vector<Option> options(TrainConfig& c) {
  std::vector<Option> o = classifier_options(c);
  append(o, optimizer_options(c));
  append(o, run_options(c));
  return o;
}

void validate_optimizer_and_run(const TrainConfig& c) {
  TrainConfig copy = c;
  check_limits(optimizer_options(copy));
  check_limits(run_options(copy));
  try {
    validate(c.schedule);
  } catch (const OptionError& e) {
    throw e.prefixed("schedule.");
  }
  check_option(c.epochs > 0 || c.max_steps > 0, {"epochs", "max_steps"},
               "{0} and {1} are both 0: nothing to do");
  check_option(!c.nesterov || c.momentum > 0, {"nesterov", "momentum"}, "{0} needs {1} > 0");
  check_option(c.trace_steps.empty() || parse_trace_steps(c.trace_steps).has_value(),
               {"trace_steps"}, "{0} '{}': expected A-B (steps from 1, A <= B) or A",
               c.trace_steps);
  check_option(!c.nesterov || c.optimizer == OptimizerKind::sgd, {"nesterov", "optimizer"},
               "{0} is an option of {1} sgd");
  check_option(
      !c.amsgrad || c.optimizer == OptimizerKind::adam || c.optimizer == OptimizerKind::adamw,
      {"amsgrad", "optimizer"}, "{0} is an option of {1} adam and adamw");
  check_option(c.warmup_epochs == 0 || c.schedule.warmup_steps == 0,
               {"warmup_epochs", "schedule.warmup_steps"},
               "{0} and {1} both set the warm-up; give one");
}

LossKind loss_of(const TrainConfig& c) {
  if (c.loss != LossKind::automatic) return c.loss;
  return c.task == Task::classification ? LossKind::cross_entropy : LossKind::mse;
}

void validate(const TrainConfig& c) {
  TrainConfig copy = c;
  check_limits(classifier_options(copy));
  check_option(c.task == Task::classification || c.dataset == "csv" || c.dataset == "arrays",
               {"task", "dataset"},
               "{0} regression needs {1} csv or arrays (the images of {} "
               "have classes)",
               c.dataset);
  check_option((c.task == Task::classification) == (loss_of(c) == LossKind::cross_entropy),
               {"loss", "task"}, "{0} {} does not fit {1} {}", name_of(loss_of(c)),
               name_of(c.task));
  check_option(c.label_smoothing == 0 || c.task == Task::classification,
               {"label_smoothing", "task"}, "{0} is for classification, not {1} regression");
  validate_optimizer_and_run(c);
  check_option(c.team_flag.empty() == c.team_values.empty(),
               {"team_flag", "team_values", c.team_flag.empty() ? "team_values" : "team_flag"},
               "{0} and {1} go together (got only {2})");
  if (!c.team_values.empty()) {
    const auto values =
        static_cast<int64_t>(std::count(c.team_values.begin(), c.team_values.end(), ',') + 1);
    check_option(values == c.teams, {"team_values", "teams"},
                 "{0} '{}' has {} value{}; {1} {} needs one per team", c.team_values, values,
                 values == 1 ? "" : "s", c.teams);
  }
}

int64_t global_batch(const TrainConfig& c, int ranks) {
  int64_t per_step = 0, out = 0;
  check_option(!__builtin_mul_overflow(c.batch_size, c.accumulate, &per_step) &&
                   !__builtin_mul_overflow(per_step, static_cast<int64_t>(ranks), &out),
               {"batch_size", "accumulate"}, "{0} {} x {1} {} x {} ranks does not fit in 64 bits",
               c.batch_size, c.accumulate, ranks);
  return out;
}

double lr_scale_factor(const TrainConfig& c, int64_t global_batch) {
  const double base = static_cast<double>(c.lr_base_batch > 0 ? c.lr_base_batch : c.batch_size);
  const double ratio = static_cast<double>(global_batch) / base;
  switch (c.lr_scaling) {
    case LrScaling::linear:
      return ratio;
    case LrScaling::sqrt:
      return std::sqrt(ratio);
    case LrScaling::none:
      return 1.0;
  }
  return 1.0;
}

std::string to_toml(const TrainConfig& c) {
  TrainConfig copy = c;
  return "# Resolved configuration of this run; `tide train --config` accepts it.\n" +
         toml_lines(options(copy));
}

std::string optimizer_and_run_toml(const TrainConfig& c) {
  TrainConfig copy = c;
  return toml_lines(optimizer_options(copy)) + toml_lines(run_options(copy));
}

}  // namespace tide
