#include "tide/experiments/experiment.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tide/core/error.hpp"
#include "tide/core/log.hpp"
#include "tide/distributed/gather.hpp"
#include "tide/distributed/replicate.hpp"
#include "tide/report/event_writer.hpp"
#include "tide/report/files.hpp"
#include "tide/report/plot.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

// The training figures of a record: --eval-train's when there, else the step means.
double train_accuracy(const EpochRecord& r) {
  return std::isnan(r.eval_train_accuracy) ? r.train_accuracy : r.eval_train_accuracy;
}
double train_loss(const EpochRecord& r) {
  return std::isnan(r.eval_train_loss) ? r.train_loss : r.eval_train_loss;
}

bool regression(const ExperimentResult& r) {
  return !r.summary.history.empty() && r.summary.history.back().regression;
}

// JSON has no NaN: absent figures are null.
ordered_json number(double v) {
  return std::isfinite(v) ? ordered_json(v) : ordered_json(nullptr);
}
double number_of(const ordered_json& j) {
  return j.is_null() ? std::numeric_limits<double>::quiet_NaN() : j.get<double>();
}

ordered_json to_json(const ExperimentResult& r) {
  ordered_json history = ordered_json::array();
  for (const EpochRecord& e : r.summary.history)
    history.push_back({e.epoch, e.step, number(e.train_loss), number(e.train_accuracy),
                       number(e.test_loss), number(e.test_accuracy), number(e.eval_train_loss),
                       number(e.eval_train_accuracy), number(e.test_rmse), number(e.test_r2),
                       e.regression});
  ordered_json hparams = ordered_json::array();
  for (const auto& [key, value] : r.hparams) hparams.push_back({key, value});
  return {{"name", r.name},
          {"hparams", hparams},
          {"batch_size", r.batch_size},
          {"lr", r.summary.lr},
          {"warmup_steps", r.summary.warmup_steps},
          {"steps", r.summary.steps},
          {"wall_s", r.summary.wall_s},
          {"parameters", r.summary.parameters},
          {"run_dir", r.summary.run_dir},
          {"history", history}};
}

ExperimentResult from_json(const ordered_json& j) {
  ExperimentResult r;
  r.name = j.at("name").get<std::string>();
  for (const ordered_json& h : j.at("hparams"))
    r.hparams.emplace_back(h.at(0).get<std::string>(), h.at(1).get<std::string>());
  r.batch_size = j.at("batch_size").get<int64_t>();
  r.summary.lr = j.at("lr").get<double>();
  r.summary.warmup_steps = j.at("warmup_steps").get<int64_t>();
  r.summary.steps = j.at("steps").get<int64_t>();
  r.summary.wall_s = j.at("wall_s").get<double>();
  r.summary.parameters = j.at("parameters").get<int64_t>();
  r.summary.run_dir = j.at("run_dir").get<std::string>();
  for (const ordered_json& e : j.at("history"))
    r.summary.history.push_back(EpochRecord{.epoch = e[0].get<double>(),
                                            .step = e[1].get<int64_t>(),
                                            .train_loss = number_of(e[2]),
                                            .train_accuracy = number_of(e[3]),
                                            .test_loss = number_of(e[4]),
                                            .test_accuracy = number_of(e[5]),
                                            .test_rmse = number_of(e[8]),
                                            .test_r2 = number_of(e[9]),
                                            .regression = e[10].get<bool>(),
                                            .eval_train_loss = number_of(e[6]),
                                            .eval_train_accuracy = number_of(e[7])});
  return r;
}

// config.toml's `key = value` lines of `c`, by key.
std::map<std::string, std::string> toml_values(const TrainConfig& c) {
  std::map<std::string, std::string> values;
  std::istringstream lines(to_toml(c));
  for (std::string line; std::getline(lines, line);) {
    const size_t eq = line.find(" = ");
    if (eq != std::string::npos && line[0] != '#') values[line.substr(0, eq)] = line.substr(eq + 3);
  }
  return values;
}

void check_name(const std::string& name) {
  TIDE_CHECK(!name.empty() && name.find('/') == std::string::npos && name != "." && name != "..",
             "experiment run name '{}' cannot be a directory name", name);
}

}  // namespace

std::vector<ExperimentRun> batch_size_runs(const TrainConfig& base,
                                           const std::vector<int64_t>& batch_sizes) {
  TIDE_CHECK(!batch_sizes.empty(), "--batch-sizes: give at least one batch size");
  for (const int64_t b : batch_sizes)
    TIDE_CHECK(b > 0, "--batch-sizes: {} is not a positive batch size", b);
  const int64_t smallest = *std::min_element(batch_sizes.begin(), batch_sizes.end());
  std::vector<ExperimentRun> runs;
  for (const int64_t b : batch_sizes) {
    ExperimentRun run{fmt::format("batch-{}", b), base};
    run.config.batch_size = b;
    if (run.config.lr_base_batch == 0) run.config.lr_base_batch = smallest;
    for (const ExperimentRun& r : runs)
      TIDE_CHECK(r.name != run.name, "--batch-sizes lists {} twice", b);
    runs.push_back(std::move(run));
  }
  return runs;
}

std::vector<ExperimentRun> regularization_runs(const TrainConfig& base,
                                               const RegularizationOptions& o) {
  TIDE_CHECK(o.l2 > 0 && o.l1 > 0 && o.dropout > 0 && o.dropout < 1 && o.noise > 0 && o.shift > 0,
             "the regularisers' strengths must be positive (dropout below 1): L2 {}, L1 {}, "
             "dropout {}, noise {}, shift {}",
             o.l2, o.l1, o.dropout, o.noise, o.shift);
  TrainConfig none = base;
  none.weight_decay = 0;
  none.l1 = 0;
  none.dropout = 0;
  none.batch_norm = false;
  none.augment = AugmentOptions{};
  none.label_smoothing = 0;
  // Input noise and shifts perturb images: a table or arrays has the first five runs.
  const bool images = base.dataset != "csv" && base.dataset != "arrays";
  std::vector<ExperimentRun> runs(images ? 7 : 5, ExperimentRun{"none", none});
  runs[1].name = "l2";
  runs[1].config.weight_decay = o.l2;
  runs[2].name = "l1";
  runs[2].config.l1 = o.l1;
  runs[3].name = "dropout";
  runs[3].config.dropout = o.dropout;
  runs[4].name = "batch-norm";
  runs[4].config.batch_norm = true;
  if (!images) return runs;
  runs[5].name = "noise";
  runs[5].config.augment.noise_std = o.noise;
  runs[6].name = "shift";
  runs[6].config.augment.shift = o.shift;
  return runs;
}

namespace {

// Lower is better. A regression's "accuracy" is its R².
double score(const ExperimentResult& r, Criterion criterion) {
  if (r.summary.history.empty()) return std::numeric_limits<double>::infinity();
  const EpochRecord& last = r.summary.history.back();
  if (criterion == Criterion::test_loss) return last.test_loss;
  return regression(r) ? -last.test_r2 : -last.test_accuracy;
}

// `a` with `b`'s regularisers added (the stronger of the two where both have one).
TrainConfig combined(TrainConfig a, const TrainConfig& b) {
  a.weight_decay = std::max(a.weight_decay, b.weight_decay);
  a.l1 = std::max(a.l1, b.l1);
  a.dropout = std::max(a.dropout, b.dropout);
  a.batch_norm = a.batch_norm || b.batch_norm;
  a.augment.noise_std = std::max(a.augment.noise_std, b.augment.noise_std);
  a.augment.shift = std::max(a.augment.shift, b.augment.shift);
  return a;
}

}  // namespace

Selection select_combination(const std::vector<ExperimentRun>& singles,
                             const std::vector<ExperimentResult>& results, Criterion criterion,
                             const std::function<ExperimentResult(const ExperimentRun&)>& run) {
  TIDE_CHECK(singles.size() == results.size() && !singles.empty() && singles[0].name == "none",
             "select_combination needs the results of regularization_runs, 'none' first");
  const double baseline = score(results[0], criterion);
  std::vector<size_t> better;  // the singles that beat none, best first
  for (size_t i = 1; i < singles.size(); ++i)
    if (score(results[i], criterion) < baseline) better.push_back(i);
  std::stable_sort(better.begin(), better.end(), [&](size_t x, size_t y) {
    return score(results[x], criterion) < score(results[y], criterion);
  });
  Selection s;
  s.best = "none";
  if (better.empty()) return s;
  ExperimentRun current = singles[better[0]];
  double current_score = score(results[better[0]], criterion);
  s.best = current.name;
  for (size_t k = 1; k < better.size(); ++k) {
    const ExperimentRun& add = singles[better[k]];
    ExperimentRun candidate{current.name + "+" + add.name, combined(current.config, add.config)};
    ExperimentResult r = run(candidate);
    const double candidate_score = score(r, criterion);
    s.runs.push_back(candidate);
    s.results.push_back(std::move(r));
    if (candidate_score < current_score) {
      current = std::move(candidate);
      current_score = candidate_score;
      s.best = current.name;
    }
  }
  return s;
}

std::vector<std::string> varying_keys(const std::vector<ExperimentRun>& runs) {
  std::vector<std::string> keys;
  if (runs.empty()) return keys;
  std::vector<std::map<std::string, std::string>> values;
  std::set<std::string> all;  // every key of any run
  for (const ExperimentRun& r : runs) {
    values.push_back(toml_values(r.config));
    for (const auto& [key, value] : values.back()) all.insert(key);
  }
  auto value = [](const std::map<std::string, std::string>& v, const std::string& key) {
    const auto it = v.find(key);
    return it == v.end() ? std::optional<std::string>() : std::optional(it->second);
  };
  for (const std::string& key : all)
    if (std::any_of(values.begin(), values.end(),
                    [&](const auto& v) { return value(v, key) != value(values[0], key); }))
      keys.push_back(key);
  return keys;
}

std::vector<ExperimentResult> run_experiment(const std::vector<ExperimentRun>& runs,
                                             const std::string& out_dir, const Communicator& world,
                                             std::vector<std::string> hparam_keys) {
  TIDE_CHECK(!runs.empty(), "an experiment needs at least one run");
  if (hparam_keys.empty()) hparam_keys = varying_keys(runs);
  for (const ExperimentRun& r : runs) check_name(r.name);
  const int teams = static_cast<int>(std::min<int64_t>(world.size(), std::ssize(runs)));
  const Team team = split_into_teams(world, teams);
  const int size = team.comm.size();
  ordered_json mine = ordered_json::array();
  for (size_t i = static_cast<size_t>(team.index); i < runs.size();
       i += static_cast<size_t>(teams)) {
    TrainConfig c = runs[i].config;
    const std::map<std::string, std::string> values = toml_values(c);  // the global batch's
    c.hparams.clear();
    for (const std::string& key : hparam_keys)
      if (const auto it = values.find(key); it != values.end())
        c.hparams.emplace_back(key, it->second);
    TIDE_CHECK(c.batch_size % size == 0,
               "run {}: the batch of {} does not split over the {} ranks of team {}", runs[i].name,
               c.batch_size, size, team.index);
    const int64_t global = c.batch_size;
    c.batch_size = global / size;
    if (c.lr_base_batch == 0) c.lr_base_batch = global;  // --lr is meant for the global batch
    c.run_dir = (fs::path(out_dir) / runs[i].name).string();
    c.resume = ResumeFrom::never();
    c.teams = 1;
    c.team_flag.clear();
    c.team_values.clear();
    if (teams > 1)
      set_log_prefix(fmt::format("rank {}/{} team {} {}", world.rank(), world.size(), team.index,
                                 runs[i].name));
    log_info("experiment run {} of {}: {}", i + 1, runs.size(), runs[i].name);
    ExperimentResult result{.name = runs[i].name,
                            .hparams = c.hparams,
                            .batch_size = global,
                            .summary = train_classifier(c, team.comm)};
    if (team.comm.rank() == 0) mine.push_back(to_json(result));
  }
  // Every team's results, in the order of `runs`.
  std::vector<ExperimentResult> all(runs.size());
  const std::vector<ordered_json> gathered =
      allgather_json(world, team.comm.rank() == 0 ? mine : ordered_json::array(),
                     "the gathering of experiment results");
  for (const ordered_json& part : gathered)
    for (const ordered_json& j : part) {
      ExperimentResult r = from_json(j);
      for (size_t i = 0; i < runs.size(); ++i)
        if (runs[i].name == r.name) all[i] = std::move(r);
    }
  return all;
}

namespace {

// train/test accuracy and loss against epochs (a regression: test RMSE and R² for the
// accuracies), a curve per run, as PNGs in `dir`.
void draw_experiment_plots(const std::string& experiment, const fs::path& dir,
                           const std::vector<ExperimentResult>& results, bool regressions) {
  struct Figure {
    const char* file;
    const char* title;
    const char* ylabel;
    double (*value)(const EpochRecord&);
  };
  const Figure figures[] = {
      {"train_accuracy.png", "train accuracy", "accuracy", train_accuracy},
      {"train_loss.png", "train loss", "loss", train_loss},
      {"test_accuracy.png", "test accuracy", "accuracy",
       [](const EpochRecord& e) { return e.test_accuracy; }},
      {"test_loss.png", "test loss", "loss", [](const EpochRecord& e) { return e.test_loss; }},
  };
  const Figure regression_figures[] = {
      {"test_rmse.png", "test RMSE", "RMSE", [](const EpochRecord& e) { return e.test_rmse; }},
      {"train_loss.png", "train loss", "loss", train_loss},
      {"test_r2.png", "test R²", "R²", [](const EpochRecord& e) { return e.test_r2; }},
      {"test_loss.png", "test loss", "loss", [](const EpochRecord& e) { return e.test_loss; }},
  };
  for (const Figure& fig : regressions ? regression_figures : figures) {
    std::vector<Series> curves;
    for (const ExperimentResult& r : results) {
      Series s{.label = r.name, .points = {}};
      for (const EpochRecord& e : r.summary.history) s.points.emplace_back(e.epoch, fig.value(e));
      curves.push_back(std::move(s));
    }
    draw_curves(curves, fmt::format("{}: {}", experiment, fig.title), "epoch", fig.ylabel,
                (dir / fig.file).string());
  }
}

}  // namespace

void write_experiment_report(const std::string& experiment, const std::string& out_dir,
                             const std::vector<ExperimentResult>& results,
                             const std::string& best_run) {
  create_directory(out_dir, "output directory");
  const bool eval_train = std::all_of(results.begin(), results.end(), [](const auto& r) {
    return !r.summary.history.empty() && !std::isnan(r.summary.history.back().eval_train_loss);
  });

  for (const ExperimentResult& r : results)
    TIDE_CHECK(!r.summary.history.empty(), "experiment run {} has no evaluation", r.name);
  const bool regressions = std::all_of(results.begin(), results.end(), regression);
  TIDE_CHECK(regressions || std::none_of(results.begin(), results.end(), regression),
             "an experiment's runs are all classifications or all regressions");
  // A figure a run does not have (a regression's accuracy) is an empty cell.
  const auto cell = [](double v) { return std::isnan(v) ? std::string() : fmt::format("{}", v); };
  const double none = std::numeric_limits<double>::quiet_NaN();
  std::string csv =
      "run,batch_size,lr,epoch,step,train_loss,train_accuracy,test_loss,test_accuracy,"
      "step_mean_train_loss,step_mean_train_accuracy,test_rmse,test_r2\n";
  ordered_json runs = ordered_json::array();
  std::string table =
      regressions
          ? "| run | batch | lr | test RMSE | test R² | train loss | test loss | gap (loss) | "
            "wall s |\n|---|---|---|---|---|---|---|---|---|\n"
          : "| run | batch | lr | train accuracy | test accuracy | gap (accuracy) | train loss | "
            "test loss | gap (loss) | wall s |\n|---|---|---|---|---|---|---|---|---|---|\n";
  for (const ExperimentResult& r : results) {
    for (const EpochRecord& e : r.summary.history)
      csv += fmt::format(
          "{},{},{},{},{},{},{},{},{},{},{},{},{}\n", r.name, r.batch_size, r.summary.lr, e.epoch,
          e.step, train_loss(e), cell(regressions ? none : train_accuracy(e)), e.test_loss,
          cell(e.test_accuracy), e.train_loss, cell(regressions ? none : e.train_accuracy),
          cell(e.test_rmse), cell(e.test_r2));
    const EpochRecord& f = r.summary.history.back();
    const double gap_accuracy = train_accuracy(f) - f.test_accuracy;
    const double gap_loss = f.test_loss - train_loss(f);
    double best = regressions ? -std::numeric_limits<double>::infinity() : 0;
    for (const EpochRecord& e : r.summary.history)
      best = std::max(best, regressions ? e.test_r2 : e.test_accuracy);
    ordered_json run = {{"name", r.name},     {"batch_size", r.batch_size},
                        {"lr", r.summary.lr}, {"warmup_steps", r.summary.warmup_steps},
                        {"epochs", f.epoch},  {"steps", r.summary.steps}};
    if (regressions) {
      run["train_loss"] = train_loss(f);
      run["test_loss"] = f.test_loss;
      run["test_rmse"] = f.test_rmse;
      run["test_r2"] = f.test_r2;
      run["generalization_gap_loss"] = gap_loss;
      run["best_test_r2"] = best;
    } else {
      run["train_accuracy"] = train_accuracy(f);
      run["train_loss"] = train_loss(f);
      run["test_accuracy"] = f.test_accuracy;
      run["test_loss"] = f.test_loss;
      run["generalization_gap_accuracy"] = gap_accuracy;
      run["generalization_gap_loss"] = gap_loss;
      run["best_test_accuracy"] = best;
    }
    run["wall_s"] = r.summary.wall_s;
    run["run_dir"] = r.summary.run_dir;
    runs.push_back(std::move(run));
    if (regressions) {
      table += fmt::format(
          "| {} | {} | {:.4g} | {:.4g} | {:.4f} | {:.4f} | {:.4f} | {:+.4f} "
          "| {:.0f} |\n",
          r.name, r.batch_size, r.summary.lr, f.test_rmse, f.test_r2, train_loss(f), f.test_loss,
          gap_loss, r.summary.wall_s);
      continue;
    }
    table += fmt::format(
        "| {} | {} | {:.4g} | {:.4f} | {:.4f} | {:+.4f} | {:.4f} | {:.4f} | {:+.4f} "
        "| {:.0f} |\n",
        r.name, r.batch_size, r.summary.lr, train_accuracy(f), f.test_accuracy, gap_accuracy,
        train_loss(f), f.test_loss, gap_loss, r.summary.wall_s);
  }
  const fs::path dir(out_dir);
  write_text_file((dir / "curves.csv").string(), csv);
  ordered_json summary = {
      {"experiment", experiment},
      {"train_figures", eval_train ? "evaluated on training examples in eval mode (--eval-train)"
                                   : "means over each epoch's training steps"},
      {"generalization_gap",
       regressions ? "test loss - train loss (at the last evaluation)"
                   : "train accuracy - test accuracy; test loss - train loss (at the last "
                     "evaluation)"},
      {"runs", runs}};
  if (!best_run.empty()) summary["best"] = best_run;
  write_text_file((dir / "summary.json").string(), summary.dump(2) + "\n");
  write_text_file((dir / "summary.md").string(), table);

  draw_experiment_plots(experiment, dir, results, regressions);
  // The hparams plugin's experiment: each hyperparameter with the values the runs took.
  std::vector<std::pair<std::string, std::vector<EventWriter::HParam>>> hparams;
  for (const ExperimentResult& r : results)
    for (const auto& [key, value] : r.hparams) {
      auto it = std::find_if(hparams.begin(), hparams.end(),
                             [&key = key](const auto& h) { return h.first == key; });
      if (it == hparams.end()) it = hparams.insert(hparams.end(), {key, {}});
      const EventWriter::HParam v = EventWriter::hparam_from_toml(value);
      if (std::find(it->second.begin(), it->second.end(), v) == it->second.end())
        it->second.push_back(v);
    }
  if (!hparams.empty()) {
    const std::vector<std::string> metrics =
        regressions ? std::vector<std::string>{"test/loss", "test/rmse", "test/r2", "train/loss"}
                    : std::vector<std::string>{"test/loss", "test/accuracy", "train/loss",
                                               "train/accuracy"};
    EventWriter(out_dir).hparams_experiment(experiment, hparams, metrics);
  }
}

}  // namespace tide
