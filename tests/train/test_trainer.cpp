// Real training runs on Fashion-MNIST (installed by scripts/setup).
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tide/data/mnist.hpp"
#include "tide/train/trainer.hpp"

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
    c.optimizer = name;
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
  EXPECT_THAT(metrics, StartsWith("step,epoch,split,loss,accuracy,lr,samples_per_sec,wall_s\n"));
  EXPECT_THAT(metrics, HasSubstr("\n900,"));  // a train row every 100 steps
  EXPECT_THAT(metrics, HasSubstr(",test,"));
  EXPECT_THAT(read_file(fs::path(c.run_dir) / "config.toml"), HasSubstr("batch-size = 64"));
}

TEST(Trainer, OneEpochOfTheCnnWithCosineDecayReaches88Percent) {
  TrainConfig c;
  c.model = "cnn";
  c.epochs = 1;
  c.lr = 0.05;
  c.schedule.kind = "cosine";
  c.run_dir = ::testing::TempDir() + "/tide_one_epoch_cnn";
  fs::remove_all(c.run_dir);
  const TrainSummary s = train_classifier(c);
  EXPECT_GE(s.test_accuracy, 0.88);
  // The rate logged with the train row of step 900 (of 938) has decayed to about 1e-4.
  const std::string metrics = read_file(fs::path(c.run_dir) / "metrics.csv");
  const size_t row = metrics.find("\n900,");
  ASSERT_NE(row, std::string::npos);
  std::vector<std::string> fields;
  std::stringstream line(metrics.substr(row + 1, metrics.find('\n', row + 1) - row - 1));
  for (std::string f; std::getline(line, f, ',');) fields.push_back(f);
  ASSERT_EQ(fields.size(), 8u);  // step,epoch,split,loss,accuracy,lr,samples_per_sec,wall_s
  EXPECT_LT(std::stod(fields[5]), 1e-3);
  EXPECT_THAT(read_file(fs::path(c.run_dir) / "config.toml"),
              HasSubstr("lr-schedule = \"cosine\""));
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
