#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "tide/cli/commands.hpp"
#include "tide/cli/config_file.hpp"
#include "tide/core/log.hpp"
#include "tide/train/experiment.hpp"
#include "tide/train/files.hpp"

namespace tide::cli {
namespace {

// One output directory name for the whole job, from rank 0's clock.
std::string default_out_dir(const std::string& experiment) {
  return Communicator::world().allgather(
      fmt::format("runs/experiment-{}-{}", experiment, local_time_stamp()),
      "the output directory name")[0];
}

void print_table(const std::string& out_dir) {
  if (Communicator::world().rank() != 0) return;
  std::ifstream table(std::filesystem::path(out_dir) / "summary.md");
  fmt::print("{}", std::string(std::istreambuf_iterator<char>(table), {}));
  fmt::print("plots, curves.csv and summary.json in {}\n", out_dir);
}

// The options every experiment shares: the training options, --config and --out; the
// experiments' own defaults (evaluating 10000 training examples at each epoch).
struct Common {
  std::shared_ptr<TrainConfig> config = std::make_shared<TrainConfig>();
  std::shared_ptr<std::string> config_path = std::make_shared<std::string>();
  std::shared_ptr<std::string> out = std::make_shared<std::string>();
};

Common add_common(CLI::App* cmd, int64_t epochs) {
  Common c;
  c.config->epochs = epochs;
  c.config->eval_train = 10000;
  c.config->log_every = 1000;
  cmd->add_option("--config", *c.config_path, "TOML file setting any training option");
  cmd->add_option("--out", *c.out,
                  "Output directory: one run directory per configuration, the plots, curves.csv, "
                  "summary.json, summary.md (default: runs/experiment-<name>-<time>)");
  add_training_options(cmd, c.config);
  return c;
}

}  // namespace

void add_experiment_command(CLI::App& app) {
  CLI::App* exp = app.add_subcommand(
      "experiment", "Families of training runs compared in one table and four plots");
  exp->require_subcommand(1);

  CLI::App* bs = exp->add_subcommand(
      "batch-size",
      "The same network at several batch sizes: train and test accuracy and loss per epoch, "
      "and the generalisation gap");
  Common b = add_common(bs, 10);
  auto sizes = std::make_shared<std::vector<int64_t>>(std::vector<int64_t>{64, 256, 1024});
  bs->add_option("--batch-sizes", *sizes, "Global batch sizes, one run each")
      ->delimiter(',')
      ->capture_default_str();
  bs->callback([bs, b, sizes] {
    if (!b.config_path->empty()) apply_config_file(*bs, *b.config_path);
    const std::string out = b.out->empty() ? default_out_dir("batch-size") : *b.out;
    const std::vector<ExperimentRun> runs = batch_size_runs(*b.config, *sizes);
    const std::vector<ExperimentResult> results = run_experiment(runs, out, Communicator::world());
    if (Communicator::world().rank() == 0) write_experiment_report("batch size", out, results);
    print_table(out);
  });

  CLI::App* reg = exp->add_subcommand(
      "regularization",
      "The same network with none, L2, L1, dropout, batch norm, input noise, shifts, and the "
      "best combination of them (forward selection)");
  Common r = add_common(reg, 30);
  r.config->train_examples = 10000;
  auto strengths = std::make_shared<RegularizationOptions>();
  reg->add_option("--reg-l2", strengths->l2, "Weight decay of the l2 run")->capture_default_str();
  reg->add_option("--reg-l1", strengths->l1, "L1 penalty of the l1 run")->capture_default_str();
  reg->add_option("--reg-dropout", strengths->dropout, "Dropout of the dropout run")
      ->capture_default_str();
  reg->add_option("--reg-noise", strengths->noise, "Input noise of the noise run")
      ->capture_default_str();
  reg->add_option("--reg-shift", strengths->shift, "Pixels of the shift run")
      ->capture_default_str();
  auto criterion = std::make_shared<std::string>("loss");
  reg->add_option("--select-by", *criterion,
                  "The final test figure that picks the best combination: loss or accuracy")
      ->check(CLI::IsMember({"loss", "accuracy"}))
      ->capture_default_str();
  reg->callback([reg, r, strengths, criterion] {
    if (!r.config_path->empty()) apply_config_file(*reg, *r.config_path);
    const std::string out = r.out->empty() ? default_out_dir("regularization") : *r.out;
    std::vector<ExperimentRun> runs = regularization_runs(*r.config, *strengths);
    std::vector<ExperimentResult> results = run_experiment(runs, out, Communicator::world());
    const Selection chosen = select_combination(
        runs, results, *criterion == "accuracy" ? Criterion::test_accuracy : Criterion::test_loss,
        [&out](const ExperimentRun& run) {
          return run_experiment({run}, out, Communicator::world()).at(0);
        });
    runs.insert(runs.end(), chosen.runs.begin(), chosen.runs.end());
    results.insert(results.end(), chosen.results.begin(), chosen.results.end());
    log_info("best by test {}: {}", *criterion, chosen.best);
    if (Communicator::world().rank() == 0)
      write_experiment_report("regularization", out, results, chosen.best);
    print_table(out);
  });
}

}  // namespace tide::cli
