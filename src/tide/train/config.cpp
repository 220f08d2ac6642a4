#include "tide/train/config.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tide/core/error.hpp"

namespace tide {
namespace {

// TOML basic string: quotes and backslashes escaped.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

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
  TIDE_CHECK(c.threads >= 0, "--threads must be >= 0 (0 means one per core), got {}", c.threads);
  TIDE_CHECK(c.log_every > 0, "--log-every must be a positive integer, got {}", c.log_every);
  TIDE_CHECK(c.image_size > 0, "--image-size must be a positive integer, got {}", c.image_size);
  TIDE_CHECK(c.prefetch >= 0, "--prefetch must be >= 0, got {}", c.prefetch);
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
  s += fmt::format("model = {}\n", quoted(c.model));
  s += fmt::format("dataset = {}\n", quoted(c.dataset));
  s += fmt::format("data-dir = {}\n", quoted(c.data_dir));
  s += fmt::format("image-size = {}\n", c.image_size);
  s += fmt::format("train-examples = {}\n", c.train_examples);
  s += fmt::format("eval-train = {}\n", c.eval_train);
  s += fmt::format("epochs = {}\n", c.epochs);
  s += fmt::format("max-steps = {}\n", c.max_steps);
  s += fmt::format("batch-size = {}\n", c.batch_size);
  s += fmt::format("hidden = {}\n", c.hidden);
  s += fmt::format("dropout = {}\n", c.dropout);
  s += fmt::format("batch-norm = {}\n", c.batch_norm);
  s += fmt::format("noise = {}\n", c.augment.noise_std);
  s += fmt::format("shift = {}\n", c.augment.shift);
  s += fmt::format("crop = {}\n", c.augment.crop);
  s += fmt::format("flip = {}\n", c.augment.flip);
  s += fmt::format("erase = {}\n", c.augment.erase);
  s += fmt::format("optimizer = {}\n", quoted(c.optimizer));
  s += fmt::format("lr = {}\n", c.lr);
  s += fmt::format("momentum = {}\n", c.momentum);
  s += fmt::format("weight-decay = {}\n", c.weight_decay);
  s += fmt::format("nesterov = {}\n", c.nesterov);
  s += fmt::format("beta1 = {}\n", c.beta1);
  s += fmt::format("beta2 = {}\n", c.beta2);
  s += fmt::format("eps = {}\n", c.eps);
  s += fmt::format("lars-trust = {}\n", c.lars_trust);
  s += fmt::format("l1 = {}\n", c.l1);
  s += fmt::format("clip-norm = {}\n", c.clip_norm);
  s += fmt::format("clip-value = {}\n", c.clip_value);
  s += fmt::format("label-smoothing = {}\n", c.label_smoothing);
  s += fmt::format("no-decay-bias-norm = {}\n", c.no_decay_bias_norm);
  s += fmt::format("lr-schedule = {}\n", quoted(c.schedule.kind));
  s += fmt::format("warmup-steps = {}\n", c.schedule.warmup_steps);
  s += fmt::format("warmup-epochs = {}\n", c.warmup_epochs);
  s += fmt::format("min-lr = {}\n", c.schedule.min_lr);
  s += fmt::format("lr-step-size = {}\n", c.schedule.step_size);
  s += fmt::format("lr-milestones = [{}]\n", fmt::join(c.schedule.milestones, ", "));
  s += fmt::format("lr-gamma = {}\n", c.schedule.gamma);
  s += fmt::format("lr-power = {}\n", c.schedule.power);
  s += fmt::format("lr-patience = {}\n", c.schedule.patience);
  s += fmt::format("lr-threshold = {}\n", c.schedule.threshold);
  s += fmt::format("seed = {}\n", c.seed);
  s += fmt::format("threads = {}\n", c.threads);
  s += fmt::format("run-dir = {}\n", quoted(c.run_dir));
  s += fmt::format("log-every = {}\n", c.log_every);
  s += fmt::format("prefetch = {}\n", c.prefetch);
  s += fmt::format("accumulate = {}\n", c.accumulate);
  s += fmt::format("lr-scaling = {}\n", quoted(c.lr_scaling));
  s += fmt::format("lr-base-batch = {}\n", c.lr_base_batch);
  s += fmt::format("teams = {}\n", c.teams);
  s += fmt::format("team-flag = {}\n", quoted(c.team_flag));
  s += fmt::format("team-values = {}\n", quoted(c.team_values));
  s += fmt::format("stall-timeout = {}\n", c.stall_timeout);
  s += fmt::format("bucket-mb = {}\n", c.bucket_mb);
  s += fmt::format("first-bucket-mb = {}\n", c.first_bucket_mb);
  s += fmt::format("overlap = {}\n", quoted(c.overlap));
  s += fmt::format("checkpoint-every-secs = {}\n", c.checkpoint_every_secs);
  s += fmt::format("checkpoint-every-steps = {}\n", c.checkpoint_every_steps);
  s += fmt::format("keep-checkpoints = {}\n", c.keep_checkpoints);
  s += fmt::format("resume = {}\n", quoted(c.resume));
  s += fmt::format("nan-policy = {}\n", quoted(c.nan_policy));
  s += fmt::format("early-stopping = {}\n", c.early_stopping);
  s += fmt::format("summary-every-steps = {}\n", c.summary_every_steps);
  return s;
}

}  // namespace tide
