#include "tide/session/config.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tide/core/error.hpp"

namespace tide {
namespace {

// Each key of to_toml and its value as TOML, in the order of the file.
std::vector<std::pair<std::string, std::string>> toml_entries(const TrainConfig& c) {
  return {
      {"model", toml_string(c.model)},
      {"dataset", toml_string(c.dataset)},
      {"data-dir", toml_string(c.data_dir)},
      {"image-size", fmt::format("{}", c.image_size)},
      {"train-examples", fmt::format("{}", c.train_examples)},
      {"eval-train", fmt::format("{}", c.eval_train)},
      {"epochs", fmt::format("{}", c.epochs)},
      {"max-steps", fmt::format("{}", c.max_steps)},
      {"batch-size", fmt::format("{}", c.batch_size)},
      {"hidden", fmt::format("{}", c.hidden)},
      {"dropout", fmt::format("{}", c.dropout)},
      {"batch-norm", fmt::format("{}", c.batch_norm)},
      {"noise", fmt::format("{}", c.augment.noise_std)},
      {"shift", fmt::format("{}", c.augment.shift)},
      {"crop", fmt::format("{}", c.augment.crop)},
      {"flip", fmt::format("{}", c.augment.flip)},
      {"erase", fmt::format("{}", c.augment.erase)},
      {"optimizer", toml_string(c.optimizer)},
      {"lr", fmt::format("{}", c.lr)},
      {"momentum", fmt::format("{}", c.momentum)},
      {"weight-decay", fmt::format("{}", c.weight_decay)},
      {"nesterov", fmt::format("{}", c.nesterov)},
      {"beta1", fmt::format("{}", c.beta1)},
      {"beta2", fmt::format("{}", c.beta2)},
      {"eps", fmt::format("{}", c.eps)},
      {"lars-trust", fmt::format("{}", c.lars_trust)},
      {"l1", fmt::format("{}", c.l1)},
      {"clip-norm", fmt::format("{}", c.clip_norm)},
      {"clip-value", fmt::format("{}", c.clip_value)},
      {"label-smoothing", fmt::format("{}", c.label_smoothing)},
      {"no-decay-bias-norm", fmt::format("{}", c.no_decay_bias_norm)},
      {"lr-schedule", toml_string(c.schedule.kind)},
      {"warmup-steps", fmt::format("{}", c.schedule.warmup_steps)},
      {"warmup-epochs", fmt::format("{}", c.warmup_epochs)},
      {"min-lr", fmt::format("{}", c.schedule.min_lr)},
      {"lr-step-size", fmt::format("{}", c.schedule.step_size)},
      {"lr-milestones", fmt::format("[{}]", fmt::join(c.schedule.milestones, ", "))},
      {"lr-gamma", fmt::format("{}", c.schedule.gamma)},
      {"lr-power", fmt::format("{}", c.schedule.power)},
      {"lr-patience", fmt::format("{}", c.schedule.patience)},
      {"lr-threshold", fmt::format("{}", c.schedule.threshold)},
      // TOML integers are 64-bit signed: a larger seed is written as a string.
      {"seed", c.seed <= uint64_t{INT64_MAX} ? fmt::format("{}", c.seed)
                                             : toml_string(fmt::format("{}", c.seed))},
      {"threads", fmt::format("{}", c.threads)},
      {"run-dir", toml_string(c.run_dir)},
      {"log-every", fmt::format("{}", c.log_every)},
      {"prefetch", fmt::format("{}", c.prefetch)},
      {"accumulate", fmt::format("{}", c.accumulate)},
      {"lr-scaling", toml_string(c.lr_scaling)},
      {"lr-base-batch", fmt::format("{}", c.lr_base_batch)},
      {"teams", fmt::format("{}", c.teams)},
      {"team-flag", toml_string(c.team_flag)},
      {"team-values", toml_string(c.team_values)},
      {"stall-timeout", fmt::format("{}", c.stall_timeout)},
      {"bucket-mb", fmt::format("{}", c.bucket_mb)},
      {"first-bucket-mb", fmt::format("{}", c.first_bucket_mb)},
      {"overlap", toml_string(c.overlap)},
      {"checkpoint-every-secs", fmt::format("{}", c.checkpoint_every_secs)},
      {"checkpoint-every-steps", fmt::format("{}", c.checkpoint_every_steps)},
      {"keep-checkpoints", fmt::format("{}", c.keep_checkpoints)},
      {"resume", toml_string(c.resume)},
      {"nan-policy", toml_string(c.nan_policy)},
      {"early-stopping", fmt::format("{}", c.early_stopping)},
      {"summary-every-steps", fmt::format("{}", c.summary_every_steps)},
  };
}
}  // namespace

std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
  }
  return out + "\"";
}

void validate(const TrainConfig& c) {
  // Upper bounds far above any real run: they keep products of sizes (parameters, global
  // batch, bucket bytes) inside 64 bits, and name the flag of a mistyped value first.
  constexpr int64_t kMaxBatch = int64_t{1} << 32;
  constexpr int64_t kMaxHidden = int64_t{1} << 20;
  TIDE_CHECK(c.batch_size > 0 && c.batch_size <= kMaxBatch,
             "--batch-size must be a positive integer of at most {}, got {}", kMaxBatch,
             c.batch_size);
  TIDE_CHECK(c.epochs >= 0, "--epochs must be >= 0, got {}", c.epochs);
  TIDE_CHECK(c.max_steps >= 0, "--max-steps must be >= 0 (0 means no limit), got {}", c.max_steps);
  TIDE_CHECK(c.epochs > 0 || c.max_steps > 0, "--epochs and --max-steps are both 0: nothing to do");
  TIDE_CHECK(std::isfinite(c.lr) && c.lr > 0, "--lr must be a positive number, got {}", c.lr);
  TIDE_CHECK(c.momentum >= 0 && c.momentum < 1, "--momentum must be in [0, 1), got {}", c.momentum);
  TIDE_CHECK(std::isfinite(c.weight_decay) && c.weight_decay >= 0,
             "--weight-decay must be >= 0 and finite, got {}", c.weight_decay);
  TIDE_CHECK(!c.nesterov || c.momentum > 0, "--nesterov needs --momentum > 0");
  TIDE_CHECK(!c.nesterov || c.optimizer == "sgd", "--nesterov is an option of --optimizer sgd");
  TIDE_CHECK(c.beta1 >= 0 && c.beta1 < 1 && c.beta2 >= 0 && c.beta2 < 1,
             "--beta1 and --beta2 must be in [0, 1), got {} and {}", c.beta1, c.beta2);
  TIDE_CHECK(std::isfinite(c.eps) && c.eps >= 0,
             "--eps must be >= 0 and finite (0: the optimizer's default), got {}", c.eps);
  TIDE_CHECK(std::isfinite(c.lars_trust) && c.lars_trust > 0,
             "--lars-trust must be a positive number, got {}", c.lars_trust);
  TIDE_CHECK(std::isfinite(c.l1) && c.l1 >= 0, "--l1 must be >= 0 and finite, got {}", c.l1);
  TIDE_CHECK(c.label_smoothing >= 0 && c.label_smoothing < 1,
             "--label-smoothing must be in [0, 1), got {}", c.label_smoothing);
  TIDE_CHECK(std::isfinite(c.clip_norm) && c.clip_norm >= 0 && std::isfinite(c.clip_value) &&
                 c.clip_value >= 0,
             "--clip-norm and --clip-value must be >= 0 (0: off), got {} and {}", c.clip_norm,
             c.clip_value);
  validate(c.schedule);
  TIDE_CHECK(std::isfinite(c.schedule.min_lr), "--min-lr must be finite, got {}",
             c.schedule.min_lr);
  TIDE_CHECK(std::isfinite(c.schedule.power), "--lr-power must be finite, got {}",
             c.schedule.power);
  TIDE_CHECK(std::isfinite(c.warmup_epochs) && c.warmup_epochs >= 0,
             "--warmup-epochs must be >= 0, got {}", c.warmup_epochs);
  TIDE_CHECK(c.warmup_epochs == 0 || c.schedule.warmup_steps == 0,
             "--warmup-epochs and --warmup-steps both set the warm-up; give one");
  TIDE_CHECK(c.train_examples >= 0, "--train-examples must be >= 0 (0: all), got {}",
             c.train_examples);
  TIDE_CHECK(c.eval_train >= -1, "--eval-train must be >= 0, or -1 for all, got {}", c.eval_train);
  TIDE_CHECK(c.hidden > 0 && c.hidden <= kMaxHidden,
             "--hidden must be a positive integer of at most {}, got {}", kMaxHidden, c.hidden);
  TIDE_CHECK(c.dropout >= 0 && c.dropout < 1, "--dropout must be in [0, 1), got {}", c.dropout);
  validate(c.augment);
  TIDE_CHECK(c.threads >= 0 && c.threads <= 4096,
             "--threads must be >= 0 (0 means one per core) and at most 4096, got {}", c.threads);
  TIDE_CHECK(c.log_every > 0, "--log-every must be a positive integer, got {}", c.log_every);
  TIDE_CHECK(c.image_size > 0, "--image-size must be a positive integer, got {}", c.image_size);
  // Each batch ahead is held in memory.
  TIDE_CHECK(c.prefetch >= 0 && c.prefetch <= 1024, "--prefetch must be in [0, 1024], got {}",
             c.prefetch);
  TIDE_CHECK(c.accumulate >= 1 && c.accumulate <= kMaxBatch,
             "--accumulate must be a positive integer of at most {}, got {}", kMaxBatch,
             c.accumulate);
  TIDE_CHECK(c.lr_scaling == "none" || c.lr_scaling == "linear" || c.lr_scaling == "sqrt",
             "--lr-scaling must be none, linear or sqrt, got '{}'", c.lr_scaling);
  TIDE_CHECK(c.lr_base_batch >= 0, "--lr-base-batch must be >= 0 (0: --batch-size), got {}",
             c.lr_base_batch);
  TIDE_CHECK(c.teams >= 1, "--teams must be a positive integer, got {}", c.teams);
  TIDE_CHECK(c.team_flag.empty() == c.team_values.empty(),
             "--team-flag and --team-values go together (got only {})",
             c.team_flag.empty() ? "--team-values" : "--team-flag");
  if (!c.team_values.empty()) {
    const auto values =
        static_cast<int64_t>(std::count(c.team_values.begin(), c.team_values.end(), ',') + 1);
    TIDE_CHECK(values == c.teams,
               "--team-values '{}' has {} value{}; --teams {} needs one per team", c.team_values,
               values, values == 1 ? "" : "s", c.teams);
  }
  TIDE_CHECK(std::isfinite(c.stall_timeout) && c.stall_timeout > 0,
             "--stall-timeout must be a positive number of seconds, got {}", c.stall_timeout);
  // Buckets are counted in bytes in an int64: up to a terabyte.
  TIDE_CHECK(
      c.bucket_mb > 0 && c.bucket_mb <= 1e6 && c.first_bucket_mb > 0 && c.first_bucket_mb <= 1e6,
      "--bucket-mb and --first-bucket-mb must be in (0, 1e6], got {} and {}", c.bucket_mb,
      c.first_bucket_mb);
  TIDE_CHECK(c.overlap == "auto" || c.overlap == "on" || c.overlap == "off",
             "--overlap must be auto, on or off, got '{}'", c.overlap);
  TIDE_CHECK(std::isfinite(c.checkpoint_every_secs) && c.checkpoint_every_secs >= 0,
             "--checkpoint-every-secs must be >= 0 (0: not by time), got {}",
             c.checkpoint_every_secs);
  TIDE_CHECK(c.checkpoint_every_steps >= 0,
             "--checkpoint-every-steps must be >= 0 (0: not by steps), got {}",
             c.checkpoint_every_steps);
  TIDE_CHECK(c.keep_checkpoints >= 0, "--keep-checkpoints must be >= 0 (0 keeps all), got {}",
             c.keep_checkpoints);
  TIDE_CHECK(!c.resume.empty(), "--resume must be auto, never or a checkpoint's path");
  TIDE_CHECK(c.nan_policy == "stop" || c.nan_policy == "skip",
             "--nan-policy must be stop or skip, got '{}'", c.nan_policy);
  TIDE_CHECK(c.summary_every_steps >= 0,
             "--summary-every-steps must be >= 0 (0: no summaries), got {}", c.summary_every_steps);
  TIDE_CHECK(c.early_stopping >= 0, "--early-stopping must be >= 0 (0: off), got {}",
             c.early_stopping);
}

int64_t global_batch(const TrainConfig& c, int ranks) {
  int64_t per_step = 0, out = 0;
  TIDE_CHECK(!__builtin_mul_overflow(c.batch_size, c.accumulate, &per_step) &&
                 !__builtin_mul_overflow(per_step, static_cast<int64_t>(ranks), &out),
             "--batch-size {} x --accumulate {} x {} ranks does not fit in 64 bits", c.batch_size,
             c.accumulate, ranks);
  return out;
}

double lr_scale_factor(const TrainConfig& c, int64_t global_batch) {
  const double base = static_cast<double>(c.lr_base_batch > 0 ? c.lr_base_batch : c.batch_size);
  const double ratio = static_cast<double>(global_batch) / base;
  if (c.lr_scaling == "linear") return ratio;
  if (c.lr_scaling == "sqrt") return std::sqrt(ratio);
  return 1.0;
}

std::string to_toml(const TrainConfig& c) {
  std::string s = "# Resolved configuration of this run; `tide train --config` accepts it.\n";
  for (const auto& [key, value] : toml_entries(c)) s += fmt::format("{} = {}\n", key, value);
  return s;
}

std::string optimizer_and_run_toml(const TrainConfig& c) {
  // The classifier's own options: model, data, perturbation and parallelism.
  static const std::set<std::string> classifier = {
      "model",      "dataset", "data-dir",  "image-size", "train-examples",
      "eval-train", "hidden",  "dropout",   "batch-norm", "noise",
      "shift",      "crop",    "flip",      "erase",      "label-smoothing",
      "accumulate", "teams",   "team-flag", "team-values"};
  std::string s;
  for (const auto& [key, value] : toml_entries(c))
    if (!classifier.contains(key)) s += fmt::format("{} = {}\n", key, value);
  return s;
}

}  // namespace tide
