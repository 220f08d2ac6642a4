// README's "From PyTorch to Tide and back", run as a user runs it: PyTorch writes a network
// as ONNX, `tide train` trains it, `tide predict` applies the run, PyTorch given the run's
// weights agrees, `tide export` writes the run as ONNX that ONNX's checker passes and that
// `tide predict` and `tide train` take in turn.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using tide::testing::run_command;

const std::string kTide = std::string(TIDE_BINARY_DIR) + "/tide";
const std::string kSource = TIDE_SOURCE_DIR;
const std::string kFashion = "/usr/share/datasets/fashion-mnist";

std::vector<std::vector<std::string>> csv_rows(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> row;
    std::stringstream s(line);
    for (std::string cell; std::getline(s, cell, ',');) row.push_back(cell);
    rows.push_back(row);
  }
  return rows;
}

TEST(OnnxWorkflow, FromPyTorchToTideAndBack) {
  const fs::path dir =
      fs::temp_directory_path() / ("tide_onnx_workflow_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string d = dir.string();
  const std::string example = "/usr/bin/python3 " + kSource + "/examples/onnx/pytorch_net.py ";

  auto r = run_command(example + "export " + d + "/net.onnx");
  ASSERT_EQ(r.status, 0) << r.out;
  r = run_command(kTide + " train --model-file " + d +
                  "/net.onnx --epochs 1 --train-examples 2000 --run-dir " + d + "/run");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("net.onnx: ONNX opset 17, from pytorch"));
  EXPECT_TRUE(fs::exists(dir / "run" / "model.onnx"));

  r = run_command(kTide + " predict --model " + d + "/run --out " + d + "/p.csv " + kFashion +
                  "/t10k-images-idx3-ubyte.gz");
  ASSERT_EQ(r.status, 0) << r.out;
  r = run_command(example + "check " + d + "/run " + d + "/p.csv " + kFashion);
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("agrees with tide predict"));

  r = run_command(kTide + " export " + d + "/run " + d + "/trained.onnx");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("input 'input' (batch, 1, 28, 28), output 'logits'"));
  r = run_command("/usr/bin/python3 " + kSource + "/tests/onnx/check_onnx.py " + d +
                  "/trained.onnx");
  EXPECT_EQ(r.status, 0) << r.out;

  // The exported graph on its own takes the normalised images as arrays and gives the run's
  // probabilities.
  r = run_command(
      "/usr/bin/python3 -c \"import gzip, numpy as np; "
      "p = np.frombuffer(gzip.open('" +
      kFashion +
      "/t10k-images-idx3-ubyte.gz').read(), np.uint8, offset=16)[:50 * 784]; "
      "np.save('" +
      d +
      "/x.npy', ((p.astype(np.float32) / 255 - np.float32(0.286)) / "
      "np.float32(0.353)).reshape(50, 1, 28, 28))\"");
  ASSERT_EQ(r.status, 0) << r.out;
  r = run_command(kTide + " predict --model " + d + "/trained.onnx --out " + d + "/q.csv " + d +
                  "/x.npy");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto run_rows = csv_rows(dir / "p.csv"), onnx_rows = csv_rows(dir / "q.csv");
  ASSERT_EQ(onnx_rows.size(), 51u);
  for (size_t i = 1; i < onnx_rows.size(); ++i) {
    ASSERT_EQ(onnx_rows[i].size(), run_rows[i].size());
    EXPECT_EQ(onnx_rows[i][2], run_rows[i][2]) << "row " << i;  // the class index
    for (size_t k = 3; k < onnx_rows[i].size(); ++k)
      EXPECT_NEAR(std::stod(onnx_rows[i][k]), std::stod(run_rows[i][k]), 1e-5) << "row " << i;
  }

  // And Tide trains its own export.
  r = run_command(kTide + " train --model-file " + d +
                  "/trained.onnx --epochs 1 --train-examples 500 --run-dir " + d + "/again");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("test accuracy"));
  fs::remove_all(dir);
}

}  // namespace
