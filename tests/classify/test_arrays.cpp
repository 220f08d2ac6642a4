// `tide train --dataset arrays`: a classification from .npy files and a regression from a
// safetensors file, from the command line, with `tide predict` on .npy files agreeing with
// `tide evaluate`, and bad arrays as one clear line.
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/testing.hpp"

#include "tide/tensor/safetensors.hpp"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using tide::testing::npy_bytes;

const std::string kTide = std::string(TIDE_BINARY_DIR) + "/tide";

std::string read(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

// An MLP over any sample shape: flatten, then two linear layers.
constexpr const char* kModel = R"([model]
name = "arrays-mlp"

[[layers]]
type = "flatten"

[[layers]]
type = "linear"
units = 32

[[layers]]
type = "relu"

[[layers]]
type = "linear"
units = "$outputs"
)";

class Arrays : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("tide_arrays_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "data");
    write(dir_ / "mlp.toml", kModel);
  }
  tide::testing::CommandResult run(const std::string& args) const {
    return tide::testing::run_command(kTide + " " + args);
  }
  std::string train(const fs::path& data, const std::string& extra) const {
    return "train --dataset arrays --data-dir " + data.string() + " --model-file " +
           (dir_ / "mlp.toml").string() + " --run-dir " + (dir_ / "run").string() +
           " --threads 2 --resume never --optimizer adam --lr 0.01 " + extra;
  }
  nlohmann::json summary() const {
    return nlohmann::json::parse(read(dir_ / "run" / "summary.json"));
  }
  fs::path dir_;
};

// n examples (2, 4) of three classes: the class is the argmax of a fixed linear map.
void write_classes(const fs::path& dir, int n, std::vector<int64_t>* labels) {
  std::mt19937 gen(5);
  std::normal_distribution<float> normal(0, 1);
  std::vector<float> w(24), x(static_cast<size_t>(n) * 8);
  for (float& v : w) v = normal(gen);
  for (float& v : x) v = normal(gen);
  labels->clear();
  for (int i = 0; i < n; ++i) {
    float best = -1e30f;
    int64_t k = 0;
    for (int c = 0; c < 3; ++c) {
      float s = 0;
      for (int j = 0; j < 8; ++j)
        s += x[static_cast<size_t>(i * 8 + j)] * w[static_cast<size_t>(j * 3 + c)];
      if (s > best) best = s, k = c;
    }
    labels->push_back(k);
  }
  write(dir / "x.npy", npy_bytes("<f4", {n, 2, 4}, x));
  write(dir / "y.npy", npy_bytes("<i8", {n}, *labels));
}

TEST_F(Arrays, AClassifierOfNpyFilesTrainsAndItsPredictionsAgreeWithEvaluate) {
  std::vector<int64_t> labels;
  write_classes(dir_ / "data", 1000, &labels);
  const auto r = run(train(dir_ / "data", "--epochs 4"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("800 training and 200 test examples"));
  const double accuracy = summary()["test_accuracy"].get<double>();
  EXPECT_GT(accuracy, 0.9) << r.out;
  const auto model = nlohmann::json::parse(read(dir_ / "run" / "model.json"));
  EXPECT_EQ(model["inputs"]["classes"], (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(model["inputs"]["sample_shape"], (std::vector<int64_t>{2, 4}));

  // Predicting every row of x.npy: its last fifth, the test split, is as accurate as
  // evaluate says.
  const auto p = run("predict --batch-size 64 --model " + (dir_ / "run").string() + " " +
                     (dir_ / "data" / "x.npy").string() + " --out " + (dir_ / "p.csv").string());
  ASSERT_EQ(p.status, 0) << p.out;
  std::istringstream csv(read(dir_ / "p.csv"));
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, "input,class,index,0,1,2");
  int rows = 0, right = 0;
  while (std::getline(csv, line)) {
    EXPECT_EQ(line.substr(0, line.find(',')), fmt::format("x.npy:{}", rows));
    const std::string rest = line.substr(line.find(',') + 1);
    if (rows >= 800) right += std::stoi(rest) == labels[static_cast<size_t>(rows)];
    ++rows;
  }
  EXPECT_EQ(rows, 1000);
  const auto e = run("evaluate --model " + (dir_ / "run").string());
  ASSERT_EQ(e.status, 0) << e.out;
  const auto eval = nlohmann::json::parse(read(dir_ / "run" / "evaluation" / "evaluation.json"));
  EXPECT_EQ(eval["examples"], 200);
  EXPECT_DOUBLE_EQ(eval["accuracy"].get<double>(), accuracy);
  EXPECT_DOUBLE_EQ(right / 200.0, accuracy);
}

TEST_F(Arrays, ARegressionFromSafetensorsReachesAnR2Near1AndEvaluatesItsHuberLoss) {
  std::mt19937 gen(6);
  std::uniform_real_distribution<float> u(-1, 1);
  tide::TensorMap t;
  for (const auto& [name, n] : {std::pair{"train", 1200}, std::pair{"test", 300}}) {
    tide::Tensor x = tide::Tensor::empty({n, 3}), y = tide::Tensor::empty({n, 2}, tide::DType::f64);
    for (int i = 0; i < n; ++i) {
      float* a = x.data<float>() + 3 * i;
      for (int j = 0; j < 3; ++j) a[j] = u(gen);
      y.data<double>()[2 * i] = 2 * a[0] - a[1] + 0.5 * a[2];
      y.data<double>()[2 * i + 1] = a[0] + 1;
    }
    t["x_" + std::string(name)] = x;
    t["y_" + std::string(name)] = y;
  }
  tide::save_safetensors((dir_ / "data.safetensors").string(), t);
  const auto r = run(train(dir_ / "data.safetensors", "--task regression --loss huber --epochs 5"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_GT(summary()["test_r2"].get<double>(), 0.95) << r.out;
  const auto e = run("evaluate --model " + (dir_ / "run").string());
  ASSERT_EQ(e.status, 0) << e.out;
  const auto eval = nlohmann::json::parse(read(dir_ / "run" / "evaluation" / "evaluation.json"));
  EXPECT_NEAR(eval["r2"].get<double>(), summary()["test_r2"].get<double>(), 1e-9);
  // The loss reported is the run's (Huber), not the mean squared error.
  EXPECT_NEAR(eval["loss"].get<double>(), summary()["test_loss"].get<double>(), 1e-6);
  EXPECT_EQ(eval["targets"], (std::vector<std::string>{"y0", "y1"}));
}

TEST_F(Arrays, BadArraysAreOneClearLine) {
  const auto expect_error = [&](const std::string& args, const std::string& needle) {
    const auto r = run(args);
    EXPECT_NE(r.status, 0) << r.out;
    EXPECT_THAT(r.out, HasSubstr(needle));
    EXPECT_THAT(r.out, Not(HasSubstr("internal error")));
  };
  const fs::path d = dir_ / "data";
  const std::vector<float> x(40, 0.5f);
  write(d / "x.npy", npy_bytes("<f4", {10, 4}, x));
  write(d / "y.npy", npy_bytes("<i8", {9}, std::vector<int64_t>(9, 1)));
  expect_error(train(d, ""), "y.npy: 9 targets (shape [9]) for the 10 inputs of");
  write(d / "y.npy", npy_bytes("<f8", {10}, std::vector<double>{0, 1, 0, 1, 0.5, 1, 0, 1, 0, 1}));
  expect_error(train(d, ""), "y.npy: row 4: label 0.5 is not a whole number");
  write(d / "y.npy", npy_bytes("<i8", {10}, std::vector<int64_t>{0, 1, 0, 1, 0, 1, 0, 1, 0, 7}));
  expect_error(train(d, ""),
               "y.npy: row 9: label 7 is not a whole number 0 to 1 (the classes of "
               "the training split");
  write(d / "y.npy",
        npy_bytes("<f8", {10}, std::vector<double>(10, std::numeric_limits<double>::infinity())));
  expect_error(train(d, "--task regression"), "y.npy: row 0: target inf is not finite");
  expect_error(train(d, "--noise 0.1"), "perturb images, not tables or arrays");
  expect_error(train(dir_ / "nowhere", ""), "nowhere: no such directory of .npy files");
  fs::remove(d / "x.npy");
  expect_error(train(d, ""), "holds neither");

  write(d / "x_train.npy", npy_bytes("<f4", {10, 4}, x));
  write(d / "y_train.npy",
        npy_bytes("<i8", {10}, std::vector<int64_t>{0, 1, 0, 1, 0, 1, 0, 1, 0, 1}));
  write(d / "x_test.npy", npy_bytes("<f4", {5, 8}, x));
  expect_error(train(d, ""), "y_test.npy is missing");
  write(d / "y_test.npy", npy_bytes("<i8", {5}, std::vector<int64_t>(5, 0)));
  expect_error(train(d, ""), "are [10, 4] and the test inputs");
  const std::vector<float> x_test(20, 0.25f);
  write(d / "x_test.npy", npy_bytes(">f4", {5, 4}, x_test));
  expect_error(train(d, ""), "x_test.npy: element type '>f4' is big-endian");
  write(d / "x_test.npy", npy_bytes("<f4", {5, 4}, x_test));
  const auto r = run(train(d, "--epochs 1"));
  ASSERT_EQ(r.status, 0) << r.out;
  expect_error("predict --model " + (dir_ / "run").string() + " " + (dir_ / "mlp.toml").string(),
               "mlp.toml: not a .npy file; the model learned from arrays");
  expect_error("predict --model " + (dir_ / "run").string() +
                   " /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz",
               "t10k-images-idx3-ubyte.gz: not a .npy file; the model learned from arrays");
  write(dir_ / "wide.npy", npy_bytes("<f4", {2, 5}, std::vector<float>(10, 0)));
  expect_error("predict --model " + (dir_ / "run").string() + " " + (dir_ / "wide.npy").string(),
               "wide.npy: the inputs are [2, 5]; the network takes (N, 4)");
  expect_error("evaluate --model " + (dir_ / "run").string() + " --dataset csv",
               "learned from arrays; it evaluates on --dataset arrays, not csv");
}

}  // namespace
