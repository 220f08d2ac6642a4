// `tide experiment`: families of training runs that differ in one respect, run on the ranks
// of one job (as teams when there are ranks enough), reported as one table, one CSV and
// four plots. A regression's table and plots show the test RMSE and R² for the accuracies.
//
//   batch-size: the same network at each batch size, optionally with the learning rate
//     scaled with the batch and a warm-up (does a larger batch generalise worse, and does
//     scaling close the gap?).
//   regularization: the same network with none, L2, L1, dropout, batch norm, input noise,
//     shifts, and the combination of those that beat none.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tide/classify/trainer.hpp"
#include "tide/distributed/communicator.hpp"
#include "tide/session/config.hpp"

namespace tide {

// One configuration of an experiment.
struct ExperimentRun {
  std::string name;  // the curve's label and the run directory's name ("batch-256", "l2")
  TrainConfig config;
};

struct ExperimentResult {
  std::string name;
  std::vector<std::pair<std::string, std::string>> hparams;  // the run's, as config.toml says
  int64_t batch_size = 0;                                    // global
  double lr = 0;                                             // after --lr-scaling
  int64_t warmup_steps = 0;
  TrainSummary summary;
};

// The runs of the batch-size experiment on top of `base`, one per global batch size. With
// --lr-scaling, base.lr is meant for the smallest batch (--lr-base-batch unless set), and
// --warmup-epochs counts epochs of each run's own batch. Throws for an empty list, a
// non-positive or repeated size.
std::vector<ExperimentRun> batch_size_runs(const TrainConfig& base,
                                           const std::vector<int64_t>& batch_sizes);

// The strengths of the regularisers, one run each.
struct RegularizationOptions {
  double l2 = 5e-4;      // weight decay
  double l1 = 1e-5;      // L1 penalty
  double dropout = 0.3;  // after each hidden layer
  double noise = 0.5;    // N(0, noise) on the (normalised) inputs
  int64_t shift = 2;     // pixels
};

// none, l2, l1, dropout, batch-norm, noise, shift on top of `base` (whose own regularisers
// are cleared); without noise and shift for a table or arrays (they perturb images). The
// combination is chosen after these have run: see select_combination().
std::vector<ExperimentRun> regularization_runs(const TrainConfig& base,
                                               const RegularizationOptions& o);

// Which final figure makes a regularised run better than another: the test loss (default;
// on 10,000 test examples it moves more reliably than accuracy, whose standard error is
// about 0.35 points) or the test accuracy (a regression's R²).
enum class Criterion { test_loss, test_accuracy };

// The best combination of regularisers, by forward selection: starting from the single
// run that did best (of those that beat `none`), add the next best single one at a time,
// keeping an addition only when the combined run does better. `run` trains one
// configuration. Returns the combined runs made (names such as "dropout+noise") with their
// results, and the name of the best run of all (a single one when no combination helped).
struct Selection {
  std::vector<ExperimentRun> runs;
  std::vector<ExperimentResult> results;
  std::string best;
};
Selection select_combination(const std::vector<ExperimentRun>& singles,
                             const std::vector<ExperimentResult>& results, Criterion criterion,
                             const std::function<ExperimentResult(const ExperimentRun&)>& run);

// The config.toml keys whose values differ between `runs`: the hyperparameters the
// experiment compares (batch-size; weight-decay, l1, dropout, ...).
std::vector<std::string> varying_keys(const std::vector<ExperimentRun>& runs);

// Runs `runs` on the ranks of `world`: with R ranks and K runs, min(R, K) teams of
// consecutive ranks, team t running runs t, t + teams, ... one after another, each with its
// global batch split over the team's ranks (it must divide). Run i writes its run directory
// <out_dir>/<name>, whose TensorBoard events carry the values of `hparam_keys` (default:
// varying_keys(runs)) for the hparams plugin. Every rank returns every result (gathered
// from the teams).
std::vector<ExperimentResult> run_experiment(const std::vector<ExperimentRun>& runs,
                                             const std::string& out_dir, const Communicator& world,
                                             std::vector<std::string> hparam_keys = {});

// Writes, into out_dir: curves.csv (one row per run and evaluation), train_accuracy.png,
// train_loss.png, test_accuracy.png and test_loss.png (against epoch, one curve per run),
// summary.json (final train/test accuracy and loss and the generalisation gap per run),
// and summary.md (the same as a Markdown table). Train figures are those of --eval-train
// when the runs had it, else the means over the epoch's training steps.
// `best`, when given, names the run summary.json reports as the best and the table marks.
// Also a TensorBoard event file in out_dir with the hparams plugin's experiment: the runs'
// hyperparameters with the values they took, and their final metrics' tags.
void write_experiment_report(const std::string& experiment, const std::string& out_dir,
                             const std::vector<ExperimentResult>& results,
                             const std::string& best = "");

}  // namespace tide
