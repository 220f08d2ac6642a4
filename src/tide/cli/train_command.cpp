#include <cmath>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tide/classify/trainer.hpp"
#include "tide/cli/commands.hpp"
#include "tide/cli/config_file.hpp"
#include "tide/core/log.hpp"
#include "tide/distributed/replicate.hpp"
#include "tide/models/model_file.hpp"
#include "tide/models/zoo.hpp"

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
    } catch (const OptionError& e) {
      TIDE_FAIL("--team-values: team {}'s --{} {}: {}", i, saved.team_flag, values[i],
                with_flags(&cmd, e));
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

// Whether `key` is an option of the optimizer and its schedule (optimizer_options).
bool optimizer_option(const std::string& key) {
  TrainConfig probe;
  for (const Option& o : optimizer_options(probe))
    if (o.flag == key) return true;
  return false;
}

// The training options a [train] table may recommend: how to optimise, not what or where.
bool recommendable(const std::string& key) {
  for (const char* k : {"batch-size", "epochs", "label-smoothing", "clip-norm", "clip-value"})
    if (key == k) return true;
  return optimizer_option(key);
}

// Sets the options the model file recommends ([train]) that neither the command line nor
// --config gave, as if they had been given, with the option's checks. A learning rate and
// schedule are tuned for one optimizer: when the user chose another, the file's optimizer
// settings are all left out.
void apply_recommendations(CLI::App& cmd, const TrainConfig& config) {
  const NetworkFile file = network_file_of(config);
  bool other_optimizer = false;
  for (const RecommendedOption& r : file.recommended())
    if (r.key == "optimizer" && cmd.get_option("--optimizer")->count() > 0)
      other_optimizer = r.value != name_of(config.optimizer);
  std::vector<std::string> applied;
  for (const RecommendedOption& r : file.recommended()) {
    if (other_optimizer && optimizer_option(r.key)) continue;
    CLI::Option* opt = cmd.get_option_no_throw("--" + r.key);
    TIDE_CHECK(opt != nullptr && recommendable(r.key), "{}:{}: [train] {}: {}", file.source(),
               r.line, r.key,
               opt == nullptr ? "`tide train` has no such option"
                              : "a model file recommends how to train (the optimizer, its "
                                "schedule, batch size, epochs, clipping), not this");
    if (opt->count() > 0) continue;
    try {
      opt->add_result(r.value);
      opt->run_callback();
    } catch (const CLI::Error& e) {
      TIDE_FAIL("{}:{}: [train] {} = {}: {}", file.source(), r.line, r.key, r.value, e.what());
    }
    applied.push_back(fmt::format("--{} {}", r.key, r.value));
  }
  if (!applied.empty())
    log_info("{} recommends {} (a flag or --config sets another)", file.source(),
             fmt::join(applied, " "));
}

}  // namespace

void add_training_options(CLI::App* cmd, const std::shared_ptr<TrainConfig>& config) {
  add_options(cmd, options(*config));
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
  // On the command line, one of the two. A config file names both (a run's config.toml
  // does): there --model-file wins, unless the command line gives --model.
  const bool model_flag = cmd.get_option("--model")->count() > 0;
  const bool model_file_flag = cmd.get_option("--model-file")->count() > 0;
  TIDE_CHECK(!model_flag || !model_file_flag, "--model {} and --model-file {}: give one of them",
             config.model, config.model_file);
  if (!config_path.empty()) apply_config_file(cmd, config_path);
  if (model_flag) config.model_file.clear();
  apply_recommendations(cmd, config);
  // Every rank refuses a bad setting (a --team-values count that is not --teams, a
  // --team-flag that is no flag, a team's value out of range) before the ranks first talk
  // to each other.
  try {
    validate(config);
    if (!config.team_flag.empty()) check_team_values(cmd, config);
  } catch (const OptionError& e) {
    if (config_path.empty()) throw Error(with_flags(&cmd, e), e.where());
    TIDE_FAIL("{} (the flags with the settings of config file {})", with_flags(&cmd, e),
              config_path);
  } catch (const Error& e) {
    if (config_path.empty()) throw;
    TIDE_FAIL("{} (the flags with the settings of config file {})", e.what(), config_path);
  }
}

void add_train_command(CLI::App& app) {
  auto config = std::make_shared<TrainConfig>();
  auto config_path = std::make_shared<std::string>();
  CLI::App* cmd = add_train_parser(app, config, *config_path);
  cmd->callback(naming_flags(cmd, [cmd, config, config_path] {
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
    const std::string figures =
        !s.regression ? fmt::format("test accuracy {:.4f}", s.test_accuracy)
                      : fmt::format("test rmse {:.4g}  r2 {:.4f}", s.test_rmse, s.test_r2);
    fmt::print("{}{}  test loss {:.4f}  ({} steps, {:.0f} samples/s, {:.1f} s)\n",
               team.count > 1 ? fmt::format("team {}: ", team.index) : "", figures, s.test_loss,
               s.steps, s.samples_per_sec, s.wall_s);
    fmt::print("{}run directory: {}\n", team.count > 1 ? fmt::format("team {}: ", team.index) : "",
               s.run_dir);
  }));
}

}  // namespace tide::cli
