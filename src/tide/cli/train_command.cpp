#include <sstream>

#include <fmt/format.h>

#include "tide/classify/trainer.hpp"
#include "tide/cli/commands.hpp"
#include "tide/cli/config_file.hpp"
#include "tide/core/log.hpp"
#include "tide/distributed/replicate.hpp"
#include "tide/models/zoo.hpp"
#include "tide/optim/factory.hpp"

namespace tide::cli {
namespace {
int g_exit_status = 0;
}  // namespace

int exit_status() {
  return g_exit_status;
}
void set_exit_status(int status) {
  g_exit_status = status;
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

namespace {

// --team-flag names a flag of `tide train` that a team may set; checked on every rank before
// anything runs, whether or not there are teams.
CLI::Option* team_option(CLI::App& cmd, const std::string& flag) {
  for (const char* own : {"config", "teams", "team-flag", "team-values", "run-dir"})
    TIDE_CHECK(flag != own, "--team-flag cannot be --{}", flag);
  CLI::Option* opt = flag.empty() ? nullptr : cmd.get_option_no_throw("--" + flag);
  TIDE_CHECK(opt != nullptr, "--team-flag '{}': `tide train` has no flag --{} (see --help)", flag,
             flag);
  return opt;
}

// Gives this rank's team its value of --team-flag, as if it had been on the command line,
// and its own run directory inside the job's.
// Sets --team-flag to `value` in `config` as the command line would, with the option's checks.
void set_team_value(CLI::App& cmd, const std::string& flag, const std::string& value) {
  CLI::Option* opt = team_option(cmd, flag);
  try {
    opt->clear();
    opt->add_result(value);
    opt->run_callback();
  } catch (const CLI::Error& e) {
    TIDE_FAIL("--team-values: '{}' is not a value of --{}: {}", value, flag, e.what());
  }
}

// Each team's configuration passes validate(), checked on every rank before any runs.
void check_team_values(CLI::App& cmd, TrainConfig& config) {
  const TrainConfig saved = config;
  const std::vector<std::string> values = split_list(config.team_values);
  for (size_t i = 0; i < values.size(); ++i) {
    set_team_value(cmd, saved.team_flag, values[i]);
    try {
      validate(config);
    } catch (const Error& e) {
      TIDE_FAIL("--team-values: team {}'s --{} {}: {}", i, saved.team_flag, values[i], e.what());
    }
    config = saved;
  }
}

void apply_team_value(CLI::App& cmd, TrainConfig& config, const Team& team) {
  const std::string flag = config.team_flag;
  const std::vector<std::string> values = split_list(config.team_values);
  TIDE_CHECK(static_cast<int>(values.size()) == team.count,
             "--team-values '{}' has {} value{}; --teams {} needs one per team", config.team_values,
             values.size(), values.size() == 1 ? "" : "s", team.count);
  const std::string& value = values[static_cast<size_t>(team.index)];
  set_team_value(cmd, flag, value);
  config.run_dir = fmt::format("{}/team{}-{}-{}", config.run_dir, team.index, flag, value);
  const Communicator& world = Communicator::world();
  set_log_prefix(fmt::format("rank {}/{} team {}", world.rank(), world.size(), team.index));
}

}  // namespace

void add_schedule_options(CLI::App* cmd, ScheduleOptions& schedule) {
  cmd->add_option("--lr-schedule", schedule.kind,
                  fmt::format("Learning-rate schedule over the run: {}", schedule_names()))
      ->capture_default_str();
  cmd->add_option("--warmup-steps", schedule.warmup_steps,
                  "Steps of linear warm-up before the schedule")
      ->capture_default_str();
  cmd->add_option("--min-lr", schedule.min_lr,
                  "cosine: the learning rate at the end; plateau: its floor")
      ->capture_default_str();
  cmd->add_option("--lr-step-size", schedule.step_size,
                  "step: multiply the rate by --lr-gamma every this many steps")
      ->capture_default_str();
  cmd->add_option("--lr-milestones", schedule.milestones,
                  "multistep: steps (after warm-up) at which the rate is multiplied by --lr-gamma")
      ->delimiter(',');
  cmd->add_option("--lr-gamma", schedule.gamma, "step, multistep, exponential, plateau: the factor")
      ->capture_default_str();
  cmd->add_option("--lr-power", schedule.power, "polynomial: the power")->capture_default_str();
}

void add_optimizer_options(CLI::App* cmd, TrainConfig& config) {
  cmd->add_option("--optimizer", config.optimizer, fmt::format("Optimizer: {}", optimizer_names()))
      ->capture_default_str();
  cmd->add_option("--lr", config.lr, "Learning rate")->capture_default_str();
  cmd->add_option("--momentum", config.momentum, "SGD momentum")->capture_default_str();
  cmd->add_option("--weight-decay", config.weight_decay, "L2 penalty")->capture_default_str();
  cmd->add_flag("--nesterov", config.nesterov, "Use Nesterov momentum");
  cmd->add_option("--beta1", config.beta1, "adam, adamw: first-moment decay")
      ->capture_default_str();
  cmd->add_option("--beta2", config.beta2, "adam, adamw: second-moment decay")
      ->capture_default_str();
  cmd->add_option("--eps", config.eps, "adam, adamw, rmsprop, adagrad: epsilon (0: default)")
      ->capture_default_str();
  cmd->add_option("--lars-trust", config.lars_trust, "lars: trust coefficient")
      ->capture_default_str();
  cmd->add_option("--l1", config.l1, "L1 penalty on weights (not biases or norm parameters)")
      ->capture_default_str();
  cmd->add_option("--clip-norm", config.clip_norm,
                  "Clip the gradients' total L2 norm to this (0: off)")
      ->capture_default_str();
  cmd->add_flag("--no-decay-bias-norm", config.no_decay_bias_norm,
                "No weight decay on biases and normalisation parameters (1-D)");
  cmd->add_option("--clip-value", config.clip_value,
                  "Clamp every gradient element to +-this (0: off)")
      ->capture_default_str();
  add_schedule_options(cmd, config.schedule);
  cmd->add_option("--warmup-epochs", config.warmup_epochs,
                  "Epochs of linear warm-up before the schedule (instead of --warmup-steps)")
      ->capture_default_str();
  cmd->add_option("--lr-patience", config.schedule.patience,
                  "plateau: evaluations without a lower test loss before the rate falls")
      ->capture_default_str();
  cmd->add_option("--lr-threshold", config.schedule.threshold,
                  "plateau: the relative fall of the test loss that counts as lower")
      ->capture_default_str();
  cmd->add_option("--lr-scaling", config.lr_scaling,
                  "Scale --lr with the global batch: none, linear or sqrt (of global batch / "
                  "--lr-base-batch)")
      ->capture_default_str();
  cmd->add_option("--lr-base-batch", config.lr_base_batch,
                  "The batch --lr is meant for (0: --batch-size)")
      ->capture_default_str();
}

void add_run_options(CLI::App* cmd, TrainConfig& config) {
  cmd->add_option("--epochs", config.epochs, "Passes over the training set")->capture_default_str();
  cmd->add_option("--max-steps", config.max_steps, "Stop after this many steps (0: no limit)")
      ->capture_default_str();
  cmd->add_option("--batch-size", config.batch_size, "Examples per step")->capture_default_str();
  cmd->add_option("--seed", config.seed, "Seed of every random stream")->capture_default_str();
  cmd->add_option("--threads", config.threads, "Threads (0: one per core)")->capture_default_str();
  cmd->add_option("--run-dir", config.run_dir,
                  "Output directory (default: runs/<model>-<dataset>-<time>)");
  cmd->add_option("--log-every", config.log_every, "Steps between metrics rows")
      ->capture_default_str();
  cmd->add_option("--prefetch", config.prefetch, "Batches prepared ahead")->capture_default_str();
  cmd->add_option("--stall-timeout", config.stall_timeout,
                  "Seconds a rank may wait in one collective before it reports what it waits on")
      ->capture_default_str();
  cmd->add_option("--bucket-mb", config.bucket_mb, "Gradient bucket size (MB)")
      ->capture_default_str();
  cmd->add_option("--first-bucket-mb", config.first_bucket_mb,
                  "Size of the first, small gradient bucket (MB)")
      ->capture_default_str();
  cmd->add_option("--overlap", config.overlap,
                  "Average gradients while backward runs: on, off, or auto (on unless compute "
                  "threads take every core)")
      ->capture_default_str();
  cmd->add_option("--checkpoint-every-secs", config.checkpoint_every_secs,
                  "Write a checkpoint every this many seconds (0: not by time)")
      ->capture_default_str();
  cmd->add_option("--checkpoint-every-steps", config.checkpoint_every_steps,
                  "Write a checkpoint every this many steps (0: not by steps)")
      ->capture_default_str();
  cmd->add_option("--keep-checkpoints", config.keep_checkpoints,
                  "Checkpoints kept, the newest (0: all)")
      ->capture_default_str();
  cmd->add_option("--resume", config.resume,
                  "auto (the newest good checkpoint of --run-dir), never, or a checkpoint's path")
      ->capture_default_str();
  cmd->add_option("--nan-policy", config.nan_policy,
                  "A step whose loss is not finite: stop the run, or skip the step")
      ->capture_default_str();
  cmd->add_option("--early-stopping", config.early_stopping,
                  "Stop after this many evaluations without a lower test loss (0: off)")
      ->capture_default_str();
  cmd->add_option("--summary-every-steps", config.summary_every_steps,
                  "Write TensorBoard scalars every this many steps (0: none)")
      ->capture_default_str();
}

void add_training_options(CLI::App* cmd, const std::shared_ptr<TrainConfig>& config) {
  cmd->add_option("--model", config->model, "Model to train")
      ->check(CLI::IsMember(model_names()))
      ->capture_default_str();
  cmd->add_option("--dataset", config->dataset, "Dataset")
      ->check(CLI::IsMember({"fashion-mnist", "mnist", "folder"}))
      ->capture_default_str();
  cmd->add_option(
      "--data-dir", config->data_dir,
      "IDX files, or train/ and val/ image folders (default: the dataset's install location)");
  cmd->add_option("--image-size", config->image_size,
                  "folder: images are resized and cropped to this size")
      ->capture_default_str();
  cmd->add_option("--train-examples", config->train_examples,
                  "Train on the first N training examples (0: all)")
      ->capture_default_str();
  cmd->add_option("--eval-train", config->eval_train,
                  "Also evaluate the first N training examples at each evaluation, as the test "
                  "split (-1: all; 0: off)")
      ->capture_default_str();
  cmd->add_option("--hidden", config->hidden, "mlp: units per hidden layer")->capture_default_str();
  cmd->add_option("--dropout", config->dropout, "mlp: dropout probability after each hidden layer")
      ->capture_default_str();
  cmd->add_flag("--batch-norm", config->batch_norm, "mlp: batch normalisation in hidden layers");
  cmd->add_option("--noise", config->augment.noise_std,
                  "Add N(0, this) noise to every training input value")
      ->capture_default_str();
  cmd->add_option("--shift", config->augment.shift,
                  "Shift training images by up to this many pixels each way")
      ->capture_default_str();
  cmd->add_option("--crop", config->augment.crop,
                  "Crop training images by this many pixels at random and scale back")
      ->capture_default_str();
  cmd->add_option("--flip", config->augment.flip, "Probability of mirroring a training image")
      ->capture_default_str();
  cmd->add_option("--erase", config->augment.erase,
                  "Probability of erasing a random rectangle of a training image")
      ->capture_default_str();
  cmd->add_option("--label-smoothing", config->label_smoothing,
                  "Train against (1 - eps) onehot + eps / classes")
      ->capture_default_str();
  cmd->add_option("--accumulate", config->accumulate,
                  "Micro-batches whose gradients are summed before one update")
      ->capture_default_str();
  cmd->add_option("--teams", config->teams,
                  "Split the ranks into this many groups that train independently")
      ->capture_default_str();
  cmd->add_option("--team-flag", config->team_flag,
                  "The flag whose value differs between teams (e.g. batch-size)");
  cmd->add_option("--team-values", config->team_values,
                  "Comma-separated values of --team-flag, one per team");
  add_optimizer_options(cmd, *config);
  add_run_options(cmd, *config);
}

CLI::App* add_train_parser(CLI::App& app, const std::shared_ptr<TrainConfig>& config,
                           std::string& config_path) {
  CLI::App* cmd =
      app.add_subcommand("train", "Train a classifier on MNIST, Fashion-MNIST or an image folder");
  cmd->add_option("--config", config_path, "TOML file setting any of these options (flags win)");
  add_training_options(cmd, config);
  return cmd;
}

void resolve_train_config(CLI::App& cmd, TrainConfig& config, const std::string& config_path) {
  if (!config_path.empty()) apply_config_file(cmd, config_path);
  // Every rank refuses a bad setting (a --team-values count that is not --teams, a
  // --team-flag that is no flag, a team's value out of range) before the ranks first talk
  // to each other.
  try {
    validate(config);
    if (!config.team_flag.empty()) check_team_values(cmd, config);
  } catch (const Error& e) {
    if (config_path.empty()) throw;
    TIDE_FAIL("{} (the flags with the settings of config file {})", e.what(), config_path);
  }
}

void add_train_command(CLI::App& app) {
  auto config = std::make_shared<TrainConfig>();
  auto config_path = std::make_shared<std::string>();
  CLI::App* cmd = add_train_parser(app, config, *config_path);
  cmd->callback([cmd, config, config_path] {
    resolve_train_config(*cmd, *config, *config_path);
    const Communicator& world = Communicator::world();
    // One run directory name for the whole job, whatever each rank's clock says.
    if (config->run_dir.empty())
      config->run_dir = world.allgather(default_run_dir(*config), "the run directory name")[0];
    const Team team = split_into_teams(world, config->teams);
    if (team.count > 1) {
      TIDE_CHECK(!config->team_flag.empty(),
                 "--teams {} needs --team-flag and --team-values (one value per team)", team.count);
      apply_team_value(*cmd, *config, team);
    }
    const TrainSummary s = train_classifier(*config, team.comm);
    if (s.stopped_by_signal != 0) set_exit_status(128 + s.stopped_by_signal);
    if (team.comm.rank() != 0) return;
    if (s.stopped_by_signal != 0) {
      fmt::print("stopped at step {} ({}); checkpoint {}\n", s.steps, s.stop_reason,
                 s.checkpoint.empty() ? "not written" : s.checkpoint);
      fmt::print("to resume, run the same command with --run-dir {}\n", s.run_dir);
      return;
    }
    fmt::print("{}test accuracy {:.4f}  test loss {:.4f}  ({} steps, {:.0f} samples/s, {:.1f} s)\n",
               team.count > 1 ? fmt::format("team {}: ", team.index) : "", s.test_accuracy,
               s.test_loss, s.steps, s.samples_per_sec, s.wall_s);
    fmt::print("{}run directory: {}\n", team.count > 1 ? fmt::format("team {}: ", team.index) : "",
               s.run_dir);
  });
}

}  // namespace tide::cli
