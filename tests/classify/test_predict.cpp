// `tide predict` and `tide evaluate` on a CNN trained for a few steps on Fashion-MNIST: they
// agree with each other, with a PyTorch module loaded with the same weights, and refuse bad
// input with one clear line.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/testing.hpp"
#include "tide/data/idx.hpp"
#include "tide/data/image_io.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kFashion = "/usr/share/datasets/fashion-mnist";
const std::string kTide = std::string(TIDE_BINARY_DIR) + "/tide";

std::string read(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<std::vector<std::string>> csv_rows(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> row;
    std::string cell;
    bool quoted = false;
    for (const char c : line) {
      if (c == '"')
        quoted = !quoted;
      else if (c == ',' && !quoted)
        row.push_back(std::exchange(cell, {}));
      else
        cell += c;
    }
    row.push_back(cell);
    rows.push_back(row);
  }
  return rows;
}

class Predict : public ::testing::Test {
 protected:
  // ctest runs each test in a process of its own, two at a time: each trains its own run, in
  // a directory of its process.
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::path(::testing::TempDir()) /
                        ("tide_predict_" + std::to_string(::getpid())));
    fs::remove_all(*dir_);
    const auto r =
        testing::run_command(kTide +
                             " train --model cnn --train-examples 2000 --epochs 1 --batch-size 64 "
                             "--threads 2 --resume never --run-dir " +
                             run().string());
    ASSERT_EQ(r.status, 0) << r.out;
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }
  static fs::path run() { return *dir_ / "run"; }
  static fs::path* dir_;
};
fs::path* Predict::dir_ = nullptr;

TEST_F(Predict, PredictionsOfTheTestSplitAgreeWithEvaluateAndItsConfusionMatrix) {
  const fs::path csv = *dir_ / "predictions.csv";
  const auto p = testing::run_command(kTide + " predict --model " + run().string() + " --out " +
                                      csv.string() + " " + kFashion + "/t10k-images-idx3-ubyte.gz");
  ASSERT_EQ(p.status, 0) << p.out;
  EXPECT_THAT(p.out, HasSubstr("wrote 10000 predictions to " + csv.string()));
  const auto rows = csv_rows(read(csv));
  ASSERT_EQ(rows.size(), 10001u);
  EXPECT_EQ(rows[0][0], "input");
  EXPECT_EQ(rows[0][3], "T-shirt/top");
  EXPECT_EQ(rows[0].size(), 13u);
  const IdxArray labels = read_idx(kFashion + "/t10k-labels-idx1-ubyte.gz");
  int64_t correct = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i][0], fmt::format("t10k-images-idx3-ubyte.gz:{}", i - 1));
    double total = 0;
    for (size_t c = 3; c < rows[i].size(); ++c) total += std::stod(rows[i][c]);
    EXPECT_NEAR(total, 1.0, 1e-4) << "row " << i;
    correct += std::stoi(rows[i][2]) == labels.data[i - 1];
  }

  const auto e = testing::run_command(kTide + " evaluate --model " + run().string());
  ASSERT_EQ(e.status, 0) << e.out;
  const auto summary = nlohmann::json::parse(read(run() / "evaluation" / "evaluation.json"));
  EXPECT_EQ(summary["examples"], 10000);
  EXPECT_DOUBLE_EQ(summary["accuracy"].get<double>(), correct / 10000.0);
  EXPECT_GT(summary["accuracy"].get<double>(), 0.6);
  EXPECT_THAT(e.out, HasSubstr(fmt::format("test accuracy {:.4f}", correct / 10000.0)));
  // The confusion matrix: each true class's row holds its 1000 test images; the diagonal
  // holds the correct ones.
  const auto confusion = csv_rows(read(run() / "evaluation" / "confusion.csv"));
  ASSERT_EQ(confusion.size(), 11u);
  int64_t diagonal = 0;
  for (size_t t = 1; t <= 10; ++t) {
    int64_t row = 0;
    for (size_t c = 1; c <= 10; ++c) row += std::stoll(confusion[t][c]);
    EXPECT_EQ(row, 1000) << confusion[t][0];
    diagonal += std::stoll(confusion[t][t]);
  }
  EXPECT_EQ(diagonal, correct);
  EXPECT_EQ(read(run() / "evaluation" / "confusion.png").substr(1, 3), "PNG");

  // A PNG of test image 0 is classified as the IDX file's first row is.
  const IdxArray images = read_idx(kFashion + "/t10k-images-idx3-ubyte.gz");
  Image img{.height = 28, .width = 28, .channels = 1, .pixels = {}};
  img.pixels.assign(images.data.begin(), images.data.begin() + 784);
  write_png((*dir_ / "first.png").string(), img);
  const auto one =
      testing::run_command(kTide + " predict --model " + (run() / "model.safetensors").string() +
                           " " + (*dir_ / "first.png").string());
  ASSERT_EQ(one.status, 0) << one.out;
  const auto first = csv_rows(one.out);
  ASSERT_EQ(first.size(), 2u) << one.out;
  ASSERT_EQ(first[1].size(), rows[1].size()) << one.out;
  // The same class and label; the probabilities to f32 rounding, not digit for digit: on
  // AVX2 oneDNN convolves a batch of one with another kernel than the batches of the
  // whole split (3.61368e-05 against 3.61369e-05 on an AMD EPYC).
  EXPECT_EQ(first[1][1], rows[1][1]);
  EXPECT_EQ(first[1][2], rows[1][2]);
  for (size_t c = 3; c < rows[1].size(); ++c)
    EXPECT_NEAR(std::stod(first[1][c]), std::stod(rows[1][c]), 3e-5 * std::stod(rows[1][c]) + 1e-9)
        << "column " << c;

  // PyTorch's own convolutions (oneDNN off), given the run's weights, agree.
  const auto torch = testing::run_command("/usr/bin/python3 " + std::string(TIDE_SOURCE_DIR) +
                                          "/tests/classify/torch_predict.py " + run().string() +
                                          " " + csv.string() + " " + kFashion);
  EXPECT_EQ(torch.status, 0) << torch.out;
  EXPECT_THAT(torch.out, HasSubstr("agree"));
}

TEST_F(Predict, BadInputIsOneClearLine) {
  const auto expect_error = [](const std::string& args, const std::string& needle) {
    const auto r = testing::run_command(kTide + " " + args);
    EXPECT_NE(r.status, 0) << r.out;
    EXPECT_THAT(r.out, HasSubstr(needle));
    EXPECT_THAT(r.out, Not(HasSubstr("internal error")));
  };
  const std::string model = " --model " + run().string() + " ";
  expect_error("predict --model /nonexistent x.png", "/nonexistent: no such run directory");
  std::ofstream(*dir_ / "notes.txt") << "hello\n";
  expect_error("predict" + model + (*dir_ / "notes.txt").string(),
               "notes.txt: not an input tide predict reads");
  expect_error(
      "predict --model " + dir_->string() + " x.png",
      "not a run directory of tide train (it needs model.toml or model.onnx, and model.json)");
  testing::write_bytes((*dir_ / "vector.idx").string(), testing::idx_bytes({5}, {1, 2, 3, 4, 5}));
  expect_error("predict" + model + (*dir_ / "vector.idx").string(),
               "IDX images are (N, H, W) or (N, C, H, W) bytes; this file has 1 dimensions");
  expect_error("predict" + model + "--batch-size 0 x.png", "--batch-size must be positive");
  expect_error("evaluate" + model + "--data-dir /nonexistent/fashion", "/nonexistent/fashion");
  expect_error("evaluate" + model + "--dataset csv", "learned from images (fashion-mnist)");
}

}  // namespace
}  // namespace tide
