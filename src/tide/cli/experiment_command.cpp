#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "tide/cli/commands.hpp"
#include "tide/cli/config_file.hpp"
#include "tide/core/log.hpp"
#include "tide/experiments/experiment.hpp"
#include "tide/report/files.hpp"

namespace tide::cli {
namespace {

// One output directory name for the whole job, from rank 0's clock.
std::string default_out_dir(const std::string& experiment) {
  return Communicator::world().allgather(
      fmt::format("runs/experiment-{}-{}", experiment, local_time_stamp()),
      "the output directory name")[0];
}

// Rank 0 prints the experiment's summary.md and where its other files are.
void print_table(const std::string& out_dir,
                 const std::string& files = "plots, curves.csv and summary.json") {
  if (Communicator::world().rank() != 0) return;
  std::ifstream table(std::filesystem::path(out_dir) / "summary.md");
  fmt::print("{}", std::string(std::istreambuf_iterator<char>(table), {}));
  fmt::print("{} in {}\n", files, out_dir);
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

void add_batch_size_command(CLI::App* exp) {
  CLI::App* bs = exp->add_subcommand(
      "batch-size",
      "The same network at several batch sizes: train and test accuracy and loss per epoch, "
      "and the generalisation gap");
  Common b = add_common(bs, 10);
  auto sizes = std::make_shared<std::vector<int64_t>>(std::vector<int64_t>{64, 256, 1024});
  bs->add_option("--batch-sizes", *sizes, "Global batch sizes, one run each")
      ->delimiter(',')
      ->capture_default_str();
  bs->callback(naming_flags(bs, [bs, b, sizes] {
    if (!b.config_path->empty()) apply_config_file(*bs, *b.config_path);
    const std::string out = b.out->empty() ? default_out_dir("batch-size") : *b.out;
    const std::vector<ExperimentRun> runs = batch_size_runs(*b.config, *sizes);
    const std::vector<ExperimentResult> results = run_experiment(runs, out, Communicator::world());
    if (Communicator::world().rank() == 0) write_experiment_report("batch size", out, results);
    print_table(out);
  }));
}

void add_regularization_command(CLI::App* exp) {
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
  reg->add_option(
         "--select-by", *criterion,
         "The final test figure that picks the best combination: loss or accuracy (R² for a "
         "regression)")
      ->check(CLI::IsMember({"loss", "accuracy"}))
      ->capture_default_str();
  reg->callback(naming_flags(reg, [reg, r, strengths, criterion] {
    if (!r.config_path->empty()) apply_config_file(*reg, *r.config_path);
    const std::string out = r.out->empty() ? default_out_dir("regularization") : *r.out;
    std::vector<ExperimentRun> runs = regularization_runs(*r.config, *strengths);
    std::vector<ExperimentResult> results = run_experiment(runs, out, Communicator::world());
    const Selection chosen = select_combination(
        runs, results, *criterion == "accuracy" ? Criterion::test_accuracy : Criterion::test_loss,
        [&out, keys = varying_keys(runs)](const ExperimentRun& run) {
          return run_experiment({run}, out, Communicator::world(), keys).at(0);
        });
    runs.insert(runs.end(), chosen.runs.begin(), chosen.runs.end());
    results.insert(results.end(), chosen.results.begin(), chosen.results.end());
    log_info("best by test {}: {}", *criterion, chosen.best);
    if (Communicator::world().rank() == 0)
      write_experiment_report("regularization", out, results, chosen.best);
    print_table(out);
  }));
}

// The base run of the time-series experiments: the options of `tide timeseries train`,
// logged every 10 steps, without summaries or timed checkpoints, to a training loss of 0.05.
std::pair<std::shared_ptr<TrainConfig>, std::shared_ptr<SeriesTrainOptions>>
series_experiment_options(CLI::App* cmd) {
  auto tc = std::make_shared<TrainConfig>();
  series_train_defaults(*tc);
  tc->log_every = 10;
  tc->summary_every_steps = 0;
  tc->checkpoint_every_secs = 0;
  auto to = std::make_shared<SeriesTrainOptions>();
  to->target_loss = 0.05;
  add_series_train_options(cmd, *tc, *to);
  return {tc, to};
}

// 1, 2, 4, ... below `n`, then `n`: the default rank counts of an experiment.
std::vector<int> doubling_up_to(int n) {
  std::vector<int> counts;
  for (int r = 1; r < n; r *= 2) counts.push_back(r);
  counts.push_back(n);
  return counts;
}

void add_time_to_solution_command(CLI::App* exp) {
  CLI::App* tts = exp->add_subcommand(
      "time-to-solution",
      "The LSTM autoencoder of `tide timeseries train` at several batch sizes (and rank counts "
      "under mpirun): wall time to a target training loss, as a table and a plot");
  auto [tc, to] = series_experiment_options(tts);
  auto batches = std::make_shared<std::vector<int64_t>>(std::vector<int64_t>{16, 32, 64, 128, 256});
  tts->add_option("--batch-sizes", *batches, "Batch sizes per rank, one run each")
      ->delimiter(',')
      ->capture_default_str();
  auto rank_counts = std::make_shared<std::vector<int>>();
  tts->add_option("--ranks", *rank_counts,
                  "Rank counts, each batch size run on each (default: 1, 2, 4, ... up to the "
                  "job's ranks)")
      ->delimiter(',');
  auto tts_out = std::make_shared<std::string>();
  tts->add_option("--out", *tts_out,
                  "Output directory: one run directory per run, time_to_solution.csv, "
                  "summary.md and time_to_solution.png (default: runs/experiment-time-to-"
                  "solution-<time>)");
  tts->callback(naming_flags(tts, [tc, to, batches, rank_counts, tts_out] {
    const Communicator& world = Communicator::world();
    const std::vector<int> counts =
        rank_counts->empty() ? doubling_up_to(world.size()) : *rank_counts;
    const std::string out = tts_out->empty() ? default_out_dir("time-to-solution") : *tts_out;
    const std::vector<TimeToSolution> results =
        time_to_solution(*tc, *to, *batches, counts, out, world);
    if (world.rank() == 0) write_time_to_solution_report(out, to->target_loss, results);
    print_table(out, "time_to_solution.csv and time_to_solution.png");
  }));
}

void add_scaling_command(CLI::App* exp) {
  CLI::App* cmd = exp->add_subcommand(
      "scaling",
      "The scaling model of the LSTM autoencoder: its step and allreduce measured here, "
      "checked against runs on 1, 2, ... ranks, and step time, efficiency and time to "
      "solution predicted for 1 to --max-nodes nodes of each --network");
  auto [tc, to] = series_experiment_options(cmd);
  auto sc = std::make_shared<ScalingOptions>();
  sc->batch_sizes = {16, 32, 64, 128, 256};
  sc->target_batches = {16, 32, 64, 128, 256, 512, 1024};
  sc->networks = {"gemini-torus", "infiniband-100g"};
  cmd->add_option("--batch-sizes", sc->batch_sizes, "Batch sizes per rank (per node)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--target-batches", sc->target_batches,
                  "Global batches trained to --target-loss on one rank, to fit the steps a "
                  "global batch needs")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--ranks", sc->check_ranks,
                  "Rank counts of the runs that check the model (default: 1, 2, 4, ... up to "
                  "the job's ranks)")
      ->delimiter(',');
  cmd->add_option("--network", sc->networks,
                  "Network description files (TOML), or shipped ones by name")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--max-nodes", sc->max_nodes, "Predict for 1, 2, 4, ... up to this many nodes")
      ->capture_default_str();
  cmd->add_option("--steps", sc->steps, "Steps of each timed run (the first five are warm-up)")
      ->capture_default_str();
  cmd->add_option("--node-threads", sc->node_threads,
                  "Threads of a node's one rank in the predictions (0: this machine's "
                  "processors)")
      ->capture_default_str();
  cmd->add_option("--check-threads", sc->check_threads,
                  "Threads of each rank in the check's runs (one: OpenMP teams sharing the "
                  "cores with the data threads and the database vary most from run to run)")
      ->capture_default_str();
  cmd->add_option(
         "--repeats", sc->repeats,
         "Runs of each compute measurement and check, in turn: the model is built from and "
         "checked against the fastest (and the median) of them")
      ->capture_default_str();
  auto out = std::make_shared<std::string>();
  cmd->add_option("--out", *out,
                  "Output directory: runs/, calibration.csv, allreduce.csv, check.csv, "
                  "steps_to_target.csv, scaling.csv, summary.md and scaling-<network>.png "
                  "(default: runs/experiment-scaling-<time>)");
  cmd->callback(naming_flags(cmd, [tc, to, sc, out] {
    const Communicator& world = Communicator::world();
    ScalingOptions o = *sc;
    if (o.check_ranks.empty()) o.check_ranks = doubling_up_to(world.size());
    const std::string dir = out->empty() ? default_out_dir("scaling") : *out;
    const std::string summary = scaling_experiment(*tc, *to, o, dir, world);
    if (world.rank() == 0) fmt::print("{}\nwritten to {}\n", summary, dir);
  }));
}

}  // namespace

void add_experiment_command(CLI::App& app) {
  CLI::App* exp = app.add_subcommand(
      "experiment", "Families of training runs compared in one table and four plots");
  exp->require_subcommand(1);
  add_batch_size_command(exp);
  add_regularization_command(exp);
  add_time_to_solution_command(exp);
  add_scaling_command(exp);
}

}  // namespace tide::cli
