// `tide experiment`: the runs each experiment makes, the combination of regularisers, and
// a small batch-size experiment on Fashion-MNIST that writes every file with sane contents.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/testing.hpp"
#include "tide/experiments/experiment.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using tide::testing::error_of;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Experiment, BatchSizeRunsDifferOnlyInTheBatch) {
  TrainConfig base;
  base.lr = 0.02;
  base.lr_scaling = LrScaling::linear;
  base.warmup_epochs = 1.5;
  const auto runs = batch_size_runs(base, {256, 64, 1024});
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].name, "batch-256");
  for (const ExperimentRun& r : runs) {
    EXPECT_EQ(r.config.lr, 0.02);
    EXPECT_EQ(r.config.lr_base_batch, 64);  // the smallest: lr is meant for it
    EXPECT_EQ(r.config.warmup_epochs, 1.5);
  }
  EXPECT_EQ(runs[2].config.batch_size, 1024);
  EXPECT_DOUBLE_EQ(lr_scale_factor(runs[2].config, 1024), 16.0);
  EXPECT_THAT(error_of([&] { batch_size_runs(base, {}); }), HasSubstr("--batch-sizes"));
  EXPECT_THAT(error_of([&] {
                batch_size_runs(base, {64, 0});
              }),
              HasSubstr("0 is not a positive batch size"));
  EXPECT_THAT(error_of([&] { batch_size_runs(base, {64, 64}); }), HasSubstr("lists 64 twice"));
}

TEST(Experiment, RegularizationRunsAddOneRegulariserEach) {
  TrainConfig base;
  base.weight_decay = 0.1;  // the base's own regularisers are cleared
  base.augment.flip = 0.5;
  const RegularizationOptions o;
  const auto runs = regularization_runs(base, o);
  ASSERT_EQ(runs.size(), 7u);
  const TrainConfig& none = runs[0].config;
  EXPECT_EQ(runs[0].name, "none");
  EXPECT_EQ(none.weight_decay, 0.0);
  EXPECT_FALSE(none.augment.any());
  EXPECT_EQ(runs[1].config.weight_decay, o.l2);
  EXPECT_EQ(runs[2].config.l1, o.l1);
  EXPECT_EQ(runs[3].config.dropout, o.dropout);
  EXPECT_TRUE(runs[4].config.batch_norm);
  EXPECT_EQ(runs[5].config.augment.noise_std, o.noise);
  EXPECT_EQ(runs[6].config.augment.shift, o.shift);
  EXPECT_EQ(runs[6].config.weight_decay, 0.0);

  // A table has no images to perturb: no noise or shift runs.
  base.augment = AugmentOptions{};
  base.dataset = "csv";
  const auto table_runs = regularization_runs(base, o);
  ASSERT_EQ(table_runs.size(), 5u);
  EXPECT_EQ(table_runs[4].name, "batch-norm");
}

// Forward selection over the singles that beat `none`, best first; here a combined run's
// test loss is what a table of made-up scores says, so each decision can be checked.
TEST(Experiment, ForwardSelectionKeepsOnlyAdditionsThatHelp) {
  const auto runs = regularization_runs(TrainConfig{}, RegularizationOptions{});
  const auto result = [](const std::string& name, double loss) {
    ExperimentResult r;
    r.name = name;
    r.summary.history = {EpochRecord{.test_loss = 9.0}, EpochRecord{.test_loss = loss}};
    return r;
  };
  // none 0.60; better: shift 0.40, dropout 0.50, l2 0.55; l1, batch-norm, noise are not.
  const double single[] = {0.60, 0.55, 0.61, 0.50, 0.65, 0.60, 0.40};
  std::vector<ExperimentResult> results;
  for (size_t i = 0; i < runs.size(); ++i) results.push_back(result(runs[i].name, single[i]));
  const std::map<std::string, double> combined = {{"shift+dropout", 0.35},
                                                  {"shift+dropout+l2", 0.36}};
  std::vector<std::string> asked;
  std::vector<TrainConfig> configs;
  const Selection s =
      select_combination(runs, results, Criterion::test_loss, [&](const ExperimentRun& run) {
        asked.push_back(run.name);
        configs.push_back(run.config);
        return result(run.name, combined.at(run.name));
      });
  EXPECT_EQ(asked, (std::vector<std::string>{"shift+dropout", "shift+dropout+l2"}));
  EXPECT_EQ(s.best, "shift+dropout");  // adding l2 made it worse
  ASSERT_EQ(s.runs.size(), 2u);
  EXPECT_EQ(s.results[1].name, "shift+dropout+l2");
  const RegularizationOptions o;
  EXPECT_EQ(configs[0].augment.shift, o.shift);
  EXPECT_EQ(configs[0].dropout, o.dropout);
  EXPECT_EQ(configs[0].weight_decay, 0.0);
  EXPECT_EQ(configs[1].weight_decay, o.l2);
  EXPECT_FALSE(configs[1].batch_norm);

  // By accuracy instead, or when nothing beats none.
  for (auto& r : results) r.summary.history.back().test_accuracy = 0.5;
  results[4].summary.history.back().test_accuracy = 0.9;  // batch-norm alone
  asked.clear();
  const Selection by_accuracy =
      select_combination(runs, results, Criterion::test_accuracy, [&](const ExperimentRun& run) {
        asked.push_back(run.name);
        return result(run.name, 0);
      });
  EXPECT_TRUE(asked.empty());
  EXPECT_EQ(by_accuracy.best, "batch-norm");
  results[4].summary.history.back().test_accuracy = 0.5;
  EXPECT_EQ(select_combination(runs, results, Criterion::test_accuracy, nullptr).best, "none");
}

TEST(Experiment, SmallBatchSizeExperimentWritesItsReport) {
  TrainConfig base;
  base.train_examples = 1024;
  base.eval_train = 512;
  base.epochs = 3;
  base.hidden = 64;
  base.lr = 0.05;
  base.summary_every_steps = 0;
  const std::string out = ::testing::TempDir() + "/tide_experiment_batch";
  fs::remove_all(out);
  const auto runs = batch_size_runs(base, {32, 256});
  const auto results = run_experiment(runs, out, Communicator::solo());
  write_experiment_report("batch size", out, results);

  // Four PNGs of gnuplot's 960x600.
  for (const char* png :
       {"train_accuracy.png", "train_loss.png", "test_accuracy.png", "test_loss.png"}) {
    const std::string bytes = read_file(fs::path(out) / png);
    ASSERT_GT(bytes.size(), 24u) << png;
    EXPECT_EQ(bytes.substr(1, 3), "PNG") << png;
    const auto be32 = [&](size_t at) {
      return (static_cast<uint32_t>(static_cast<uint8_t>(bytes[at])) << 24) |
             (static_cast<uint32_t>(static_cast<uint8_t>(bytes[at + 1])) << 16) |
             (static_cast<uint32_t>(static_cast<uint8_t>(bytes[at + 2])) << 8) |
             static_cast<uint32_t>(static_cast<uint8_t>(bytes[at + 3]));
    };
    EXPECT_EQ(be32(16), 960u);
    EXPECT_EQ(be32(20), 600u);
  }
  // Every run trained in its own run directory.
  for (const char* run : {"batch-32", "batch-256"})
    EXPECT_TRUE(fs::exists(fs::path(out) / run / "metrics.csv")) << run;

  // TensorBoard's hparams plugin, read by the independent reader of the summaries' tests:
  // each run a session with its batch size that ended well, and the experiment in the
  // output directory with both values and the final metrics.
  auto hparams_records = [](const fs::path& dir) {
    std::vector<nlohmann::json> records;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().filename().string().rfind("events.out.tfevents.", 0) != 0) continue;
      const auto r = testing::run_command("/usr/bin/python3 " + std::string(TIDE_SOURCE_DIR) +
                                          "/tests/report/read_events.py " + e.path().string());
      EXPECT_EQ(r.status, 0) << r.out;
      if (r.status != 0) continue;
      const nlohmann::json events = nlohmann::json::parse(r.out);
      for (const auto& h : events["hparams"]) records.push_back(h);
    }
    return records;
  };
  for (const auto& [run, batch] : {std::pair{"batch-32", 32}, std::pair{"batch-256", 256}}) {
    const auto records = hparams_records(fs::path(out) / run);
    ASSERT_EQ(records.size(), 2u) << run;
    EXPECT_EQ(records[0]["tag"], "_hparams_/session_start_info");
    EXPECT_EQ(records[0]["plugin"], "hparams");
    EXPECT_EQ(records[0]["hparams"]["batch-size"], batch) << records[0].dump();
    EXPECT_EQ(records[0]["version"], 0);
    EXPECT_EQ(records[0]["tensor"], nlohmann::json({{"dtype", 1}, {"float_val", {0.0}}}));
    EXPECT_GT(records[0]["start_time_secs"].get<double>(), 1.7e9);  // seconds since 1970
    EXPECT_EQ(records[1]["kind"], "session_end_info");
    EXPECT_EQ(records[1]["status"], 1);  // success
    EXPECT_GE(records[1]["end_time_secs"].get<double>(),
              records[0]["start_time_secs"].get<double>());
  }
  const auto experiment = hparams_records(out);
  ASSERT_EQ(experiment.size(), 1u);
  EXPECT_EQ(experiment[0]["kind"], "experiment");
  EXPECT_EQ(experiment[0]["name"], "batch size");
  EXPECT_GT(experiment[0]["time_created_secs"].get<double>(), 1.7e9);
  ASSERT_EQ(experiment[0]["hparams"].size(), 1u) << experiment[0].dump();
  EXPECT_EQ(experiment[0]["hparams"][0]["name"], "batch-size");
  EXPECT_EQ(experiment[0]["hparams"][0]["type"], 3);  // a number
  EXPECT_EQ(experiment[0]["hparams"][0]["values"], nlohmann::json({32, 256}));
  std::vector<std::string> metrics;
  for (const auto& m : experiment[0]["metrics"]) metrics.push_back(m["tag"]);
  EXPECT_EQ(metrics, (std::vector<std::string>{"test/loss", "test/accuracy", "train/loss",
                                               "train/accuracy"}));

  // curves.csv: a header and one row per run and epoch; figures in range.
  std::stringstream csv(read_file(fs::path(out) / "curves.csv"));
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line,
            "run,batch_size,lr,epoch,step,train_loss,train_accuracy,test_loss,test_accuracy,"
            "step_mean_train_loss,step_mean_train_accuracy,test_rmse,test_r2");
  int rows = 0;
  while (std::getline(csv, line)) {
    const std::vector<std::string> f = testing::csv_cells(line);
    ASSERT_EQ(f.size(), 13u) << line;
    EXPECT_EQ(f[11] + f[12], "") << line;  // a classifier has no RMSE or R²
    EXPECT_TRUE(f[0] == "batch-32" || f[0] == "batch-256") << line;
    for (size_t i = 5; i < 11; ++i) {
      const double v = std::stod(f[i]);
      EXPECT_TRUE(std::isfinite(v) && v >= 0) << line;
      if (i % 2 == 0) {
        EXPECT_LE(v, 1.0) << line;  // accuracies
      }
    }
    ++rows;
  }
  EXPECT_EQ(rows, 6);

  // summary.json: the final figures and the gap, consistent with the run's own history.
  const auto j = nlohmann::json::parse(read_file(fs::path(out) / "summary.json"));
  EXPECT_EQ(j["experiment"], "batch size");
  ASSERT_EQ(j["runs"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const auto& r = j["runs"][i];
    const EpochRecord& last = results[i].summary.history.back();
    EXPECT_EQ(r["name"], runs[i].name);
    EXPECT_EQ(r["batch_size"], runs[i].config.batch_size);
    EXPECT_DOUBLE_EQ(r["test_accuracy"].get<double>(), last.test_accuracy);
    EXPECT_DOUBLE_EQ(r["train_accuracy"].get<double>(), last.eval_train_accuracy);
    EXPECT_NEAR(r["generalization_gap_accuracy"].get<double>(),
                last.eval_train_accuracy - last.test_accuracy, 1e-12);
    EXPECT_NEAR(r["generalization_gap_loss"].get<double>(), last.test_loss - last.eval_train_loss,
                1e-12);
    EXPECT_GT(r["test_accuracy"].get<double>(), 0.5);  // it learned: 10 classes, chance 0.1
    EXPECT_EQ(r["epochs"].get<double>(), 3.0);
  }
  // 1024 examples: 32 steps an epoch at batch 32, 4 at 256.
  EXPECT_EQ(j["runs"][0]["steps"], 96);
  EXPECT_EQ(j["runs"][1]["steps"], 12);
  EXPECT_THAT(read_file(fs::path(out) / "summary.md"), HasSubstr("| batch-256 | 256 |"));
}

// A regression of a small table: the report shows the test RMSE and R² where a classifier's
// shows accuracies, each equal to the run's own last evaluation.
TEST(Experiment, ARegressionExperimentReportsRmseAndR2) {
  const std::string out = ::testing::TempDir() + "/tide_experiment_regression";
  fs::remove_all(out);
  fs::create_directories(out);
  std::mt19937 gen(5);
  std::uniform_real_distribution<double> u(-1, 1);
  std::ofstream table(out + "/data.csv");
  table << "a,b,y\n";
  for (int i = 0; i < 500; ++i) {
    const double a = u(gen), b = u(gen);
    table << a << "," << b << "," << 2 * a - b + 0.05 * u(gen) << "\n";
  }
  table.close();
  TrainConfig base;
  base.dataset = "csv";
  base.data_dir = out + "/data.csv";
  base.task = Task::regression;
  base.epochs = 4;
  base.hidden = 16;
  base.lr = 0.05;
  base.summary_every_steps = 0;
  const auto runs = batch_size_runs(base, {8, 64});
  const auto results = run_experiment(runs, out, Communicator::solo());
  write_experiment_report("batch size", out, results);

  for (const char* png : {"test_rmse.png", "test_r2.png", "train_loss.png", "test_loss.png"})
    EXPECT_EQ(read_file(fs::path(out) / png).substr(1, 3), "PNG") << png;
  EXPECT_FALSE(fs::exists(fs::path(out) / "test_accuracy.png"));
  const std::string md = read_file(fs::path(out) / "summary.md");
  EXPECT_THAT(md, HasSubstr("| run | batch | lr | test RMSE | test R² |"));
  const auto j = nlohmann::json::parse(read_file(fs::path(out) / "summary.json"));
  ASSERT_EQ(j["runs"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const auto& r = j["runs"][i];
    const EpochRecord& last = results[i].summary.history.back();
    EXPECT_DOUBLE_EQ(r["test_r2"].get<double>(), last.test_r2);
    EXPECT_DOUBLE_EQ(r["test_rmse"].get<double>(), last.test_rmse);
    EXPECT_FALSE(r.contains("test_accuracy"));
    EXPECT_GT(last.test_r2, 0.8) << runs[i].name;  // it learned y = 2a - b
  }
  // curves.csv: empty accuracy cells, the R² of every evaluation.
  std::stringstream csv(read_file(fs::path(out) / "curves.csv"));
  std::string line;
  std::getline(csv, line);
  EXPECT_THAT(line, ::testing::EndsWith(",test_rmse,test_r2"));
  std::getline(csv, line);
  const std::vector<std::string> f = testing::csv_cells(line);
  ASSERT_EQ(f.size(), 13u) << line;
  EXPECT_EQ(f[6], "") << line;  // train accuracy
  EXPECT_EQ(f[8], "") << line;  // test accuracy
  EXPECT_DOUBLE_EQ(std::stod(f[12]), results[0].summary.history.front().test_r2);
}

}  // namespace
}  // namespace tide
