// Real training runs on Fashion-MNIST (installed by scripts/setup).
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/testing.hpp"
#include "tide/classify/trainer.hpp"
#include "tide/data/mnist.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Trainer, EveryOptimizerTrainsTheMlp) {
  // 300 steps of batch 64, each optimizer at a rate that suits it.
  for (const auto& [name, lr, momentum] :
       {std::tuple{"adam", 0.001, 0.0}, std::tuple{"adamw", 0.001, 0.0},
        std::tuple{"rmsprop", 0.001, 0.0}, std::tuple{"adagrad", 0.05, 0.0},
        std::tuple{"lars", 1.0, 0.9}}) {
    TrainConfig c;
    c.optimizer = parse_choice<OptimizerKind>(name, "optimizer");
    c.lr = lr;
    c.momentum = momentum;
    c.weight_decay = std::string(name) == "adamw" ? 0.01 : 0.0;
    c.max_steps = 300;
    c.summary_every_steps = 0;
    c.run_dir = ::testing::TempDir() + "/tide_optimizer_" + name;
    fs::remove_all(c.run_dir);
    const TrainSummary s = train_classifier(c);
    EXPECT_GE(s.test_accuracy, 0.80) << name;
  }
}

TEST(Trainer, OneEpochOfTheDefaultMlpReaches84Percent) {
  TrainConfig c;  // the defaults: mlp on fashion-mnist, batch 64, SGD lr 0.01 momentum 0.9
  c.epochs = 1;
  c.run_dir = ::testing::TempDir() + "/tide_one_epoch";
  fs::remove_all(c.run_dir);
  const TrainSummary s = train_classifier(c);
  EXPECT_GE(s.test_accuracy, 0.84);
  EXPECT_EQ(s.steps, 938);  // ceil(60000 / 64)
  EXPECT_DOUBLE_EQ(s.epochs, 1.0);
  EXPECT_LT(s.train_loss, 0.6);

  const auto summary = nlohmann::json::parse(read_file(fs::path(c.run_dir) / "summary.json"));
  for (const char* key :
       {"test_accuracy", "test_loss", "train_loss", "epochs", "steps", "samples_per_sec", "wall_s"})
    EXPECT_TRUE(summary.contains(key)) << key;
  EXPECT_DOUBLE_EQ(summary["test_accuracy"].get<double>(), s.test_accuracy);
  EXPECT_GT(summary["samples_per_sec"].get<double>(), 0.0);

  const std::string metrics = read_file(fs::path(c.run_dir) / "metrics.csv");
  EXPECT_THAT(metrics,
              StartsWith("step,epoch,split,loss,accuracy,lr,samples_per_sec,wall_s,rmse,r2\n"));
  EXPECT_THAT(metrics, HasSubstr("\n900,"));  // a train row every 100 steps
  EXPECT_THAT(metrics, HasSubstr(",test,"));
  EXPECT_THAT(read_file(fs::path(c.run_dir) / "config.toml"), HasSubstr("batch-size = 64"));
}

TEST(Trainer, SameSeedSameResult) {
  auto run = [](const std::string& dir) {
    TrainConfig c;
    c.max_steps = 30;
    c.seed = 5;
    c.run_dir = ::testing::TempDir() + dir;
    return train_classifier(c);
  };
  const TrainSummary a = run("/tide_seed_a"), b = run("/tide_seed_b");
  EXPECT_EQ(a.test_loss, b.test_loss);
  EXPECT_EQ(a.train_loss, b.train_loss);
  EXPECT_EQ(a.steps, 30);
}

// The `test` and `train-eval` rows of metrics.csv: (step, lr, loss, accuracy) in order.
std::vector<std::array<double, 4>> rows_of(const std::string& run_dir, const std::string& split) {
  std::vector<std::array<double, 4>> rows;
  std::stringstream in(read_file(fs::path(run_dir) / "metrics.csv"));
  for (std::string line; std::getline(in, line);) {
    const std::vector<std::string> f = testing::csv_cells(line);
    if (f.size() == 10 && f[2] == split)
      rows.push_back({std::stod(f[0]), std::stod(f[5]), std::stod(f[3]), std::stod(f[4])});
  }
  return rows;
}

// A small plateau run: 512 examples, 8 steps an epoch; a threshold of 50 % makes nearly
// every evaluation "no improvement", so with patience 0 the rate halves after most epochs.
TrainConfig plateau_run(const std::string& dir, int64_t epochs) {
  TrainConfig c;
  c.train_examples = 512;
  c.eval_train = 256;
  c.hidden = 64;
  c.epochs = epochs;
  c.lr = 0.05;
  c.schedule = {.kind = ScheduleKind::plateau, .gamma = 0.5, .patience = 0, .threshold = 0.5};
  c.summary_every_steps = 0;
  c.run_dir = ::testing::TempDir() + dir;
  return c;
}

TEST(Trainer, PlateauHalvesTheRateAndResumesExactly) {
  TrainConfig straight = plateau_run("/tide_plateau_straight", 5);
  fs::remove_all(straight.run_dir);
  const TrainSummary a = train_classifier(straight);
  EXPECT_EQ(a.steps, 40);
  // The rate of each evaluation's row: 0.05 until the loss stops falling by half.
  const auto tests = rows_of(straight.run_dir, "test");
  ASSERT_EQ(tests.size(), 5u);
  int halvings = 0;
  for (size_t i = 1; i < tests.size(); ++i) {
    const double ratio = tests[i][1] / tests[i - 1][1];
    EXPECT_TRUE(std::abs(ratio - 1.0) < 1e-12 || std::abs(ratio - 0.5) < 1e-12) << ratio;
    halvings += std::abs(ratio - 0.5) < 1e-12;
  }
  EXPECT_GE(halvings, 2);
  // --eval-train: a train-eval row per evaluation, on the first 256 training examples.
  const auto fits = rows_of(straight.run_dir, "train-eval");
  ASSERT_EQ(fits.size(), 5u);
  ASSERT_EQ(a.history.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(fits[i][0], tests[i][0]);
    EXPECT_NEAR(fits[i][2], a.history[i].eval_train_loss, 1e-6);
    EXPECT_NEAR(fits[i][3], a.history[i].eval_train_accuracy, 1e-6);  // CSV: 6 digits
    EXPECT_NEAR(a.history[i].eval_train_accuracy * 256,
                std::round(a.history[i].eval_train_accuracy * 256), 1e-9);
  }

  // Stopped after 2 epochs and resumed: the schedule's state came back with the checkpoint.
  TrainConfig first = plateau_run("/tide_plateau_resumed", 2);
  fs::remove_all(first.run_dir);
  train_classifier(first);
  const TrainSummary b = train_classifier(plateau_run("/tide_plateau_resumed", 5));
  EXPECT_EQ(b.steps, 40);
  EXPECT_EQ(read_file(fs::path(straight.run_dir) / "model.safetensors"),
            read_file(fs::path(first.run_dir) / "model.safetensors"));
  EXPECT_EQ(rows_of(first.run_dir, "test").back()[1], tests.back()[1]);
}

TEST(Trainer, DivergenceIsAnErrorNamingTheStep) {
  TrainConfig c;
  c.max_steps = 200;
  c.lr = 1e6;
  c.run_dir = ::testing::TempDir() + "/tide_diverge";
  try {
    train_classifier(c);
    FAIL() << "expected divergence";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("diverged"));
    EXPECT_THAT(e.what(), HasSubstr("--lr"));
  }
}

}  // namespace
}  // namespace tide
