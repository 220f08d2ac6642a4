// write_onnx: every kind of network Tide builds, written as ONNX, passes ONNX's checker with
// strict shape inference, and imported again gives the outputs of the network it came from,
// for any batch size.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"
#include "tide/autograd/ops.hpp"
#include "tide/models/zoo.hpp"
#include "tide/onnx/onnx.hpp"
#include "tide/tensor/random.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const Shape kImage{1, 28, 28};

Network from_text(const std::string& toml, const Shape& sample, uint64_t seed = 7) {
  RngStream rng(seed, RngPurpose::init);
  return build_network(ModelFile::parse(toml, "test model"),
                       NetworkInputs{.sample = sample, .classes = 10, .arguments = {}, .seed = 0},
                       rng);
}

Network shipped(const std::string& name) {
  RngStream rng(3, RngPurpose::init);
  return build_network(shipped_model(name),
                       NetworkInputs{.sample = kImage, .classes = 10, .arguments = {}, .seed = 0},
                       rng);
}

Tensor inputs(int64_t batch, const Shape& sample, uint64_t seed) {
  std::vector<int64_t> dims = {batch};
  dims.insert(dims.end(), sample.dims().begin(), sample.dims().end());
  RngStream rng(seed, RngPurpose::init);
  return normal(Shape(dims), 0.0, 1.0, rng);
}

// The largest |a - b| relative to the largest |b|.
double relative_difference(const Tensor& a, const Tensor& b) {
  const auto x = a.to_vector(), y = b.to_vector();
  double diff = 0, scale = 1e-30;
  for (size_t i = 0; i < x.size(); ++i) {
    diff = std::max(diff, std::abs(x[i] - y[i]));
    scale = std::max(scale, std::abs(y[i]));
  }
  return diff / scale;
}

class Export : public ::testing::Test {
 protected:
  static fs::path dir() {
    static const fs::path d = [] {
      const fs::path p =
          fs::temp_directory_path() / ("tide_onnx_export_" + std::to_string(getpid()));
      fs::remove_all(p);
      fs::create_directories(p);
      return p;
    }();
    return d;
  }

  // Writes the network (a few steps trained, so batch norm's statistics are not the initial
  // ones), checks the file with ONNX's checker, imports it and compares outputs for batches
  // of 1 and 5 in evaluation mode.
  void round_trip(const std::string& name, Network net, const Shape& sample) {
    SCOPED_TRACE(name);
    net.module->train();
    for (int step = 0; step < 2; ++step) {
      const Variable x(inputs(4, sample, 100 + step));
      (*net.module)(x);  // batch norm's running statistics move
    }
    net.module->eval();
    const fs::path path = dir() / (name + ".onnx");
    write_onnx(*net.module, sample, path.string());
    const auto check = testing::run_command("/usr/bin/python3 " + std::string(TIDE_SOURCE_DIR) +
                                            "/tests/onnx/check_onnx.py " + path.string());
    ASSERT_EQ(check.status, 0) << check.out;
    EXPECT_THAT(check.out, HasSubstr("ok "));

    const OnnxModel model = OnnxModel::read(path.string());
    EXPECT_EQ(model.opset(), kOnnxExportOpset);
    Network back = build_network(
        model, NetworkInputs{.sample = sample, .classes = 0, .arguments = {}, .seed = 0});
    EXPECT_EQ(back.output_shape, net.output_shape);
    EXPECT_EQ(back.module->num_parameters(), net.module->num_parameters());
    back.module->eval();
    NoGradGuard no_grad;
    for (const int64_t batch : {1, 5}) {
      const Variable x(inputs(batch, sample, 7));
      const Tensor expected = (*net.module)(x).value(), got = (*back.module)(x).value();
      ASSERT_EQ(got.shape(), expected.shape());
      // The same ops in another order (a GEMM scaled after, not inside; a fused stage run op
      // by op) round differently by a few ulps.
      const double diff = relative_difference(got, expected);
      EXPECT_LT(diff, 2e-6) << "batch " << batch;
      std::printf("%s, batch %ld: largest difference %.2g of the largest output\n", name.c_str(),
                  static_cast<long>(batch), diff);
    }
    // Written again from the import, the graph gives the same outputs.
    const OnnxModel again = OnnxModel::parse(onnx_bytes(*back.module, sample), "again");
    Network twice = build_network(
        again, NetworkInputs{.sample = sample, .classes = 0, .arguments = {}, .seed = 0});
    twice.module->eval();
    const Variable x(inputs(3, sample, 9));
    EXPECT_EQ(relative_difference((*twice.module)(x).value(), (*back.module)(x).value()), 0);
  }
};

TEST_F(Export, ShippedNetworks) {
  for (const std::string& name : shipped_model_names()) round_trip(name, shipped(name), kImage);
}

TEST_F(Export, ResidualModelFile) {
  const std::string text = [] {
    std::ifstream in(std::string(TIDE_SOURCE_DIR) + "/examples/models/resnet.toml");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  round_trip("resnet", from_text(text, kImage), kImage);
}

TEST_F(Export, RecurrentLayersOfEveryKind) {
  // Two bidirectional layers each, as a sequence or as the last state.
  for (const std::string kind : {"lstm", "gru", "rnn"}) {
    round_trip("bi_" + kind,
               from_text(R"([[layers]]
type = "permute"
dims = [0, 2, 1, 3]
[[layers]]
type = "flatten"
start = 2
[[layers]]
type = ")" + kind + R"("
hidden = 12
layers = 2
bidirectional = true
[[layers]]
type = ")" + kind + R"("
hidden = 8
output = "last_state"
[[layers]]
type = "linear"
units = "$classes"
)",
                         kImage),
               kImage);
  }
}

TEST_F(Export, AttentionPoolingPaddingAndBranches) {
  round_trip("pre_norm_gelu",
             from_text(R"([[layers]]
type = "permute"
dims = [0, 2, 1, 3]
[[layers]]
type = "flatten"
start = 2
[[layers]]
type = "linear"
units = 16
[[layers]]
type = "positions"
[[layers]]
type = "transformer_encoder"
heads = 2
feedforward = 24
norm_first = true
activation = "gelu"
[[layers]]
type = "layer_norm"
[[layers]]
type = "mean"
dim = 1
[[layers]]
type = "linear"
units = "$classes"
)",
                       kImage),
             kImage);
  round_trip("convolutions",
             from_text(R"([[layers]]
type = "conv2d"
channels = 4
kernel = 3
padding = 1
padding_mode = "reflect"
[[layers]]
type = "gelu"
[[layers]]
type = "concat"
dim = 1
branches = [
  { type = "avg_pool2d", kernel = 3, stride = 2, padding = 1, count_include_pad = false },
  { type = "max_pool2d", kernel = 2, stride = 2, ceil_mode = true },
]
[[layers]]
type = "add"
branches = [
  { type = "identity" },
  { type = "sequential", layers = [
    { type = "conv2d", channels = 8, kernel = 3, padding = 1, padding_mode = "replicate", groups = 2 },
    { type = "batch_norm" },
    { type = "tanh" },
  ] },
]
[[layers]]
type = "adaptive_avg_pool2d"
size = 2
[[layers]]
type = "flatten"
[[layers]]
type = "dropout"
p = 0.3
[[layers]]
type = "linear"
units = "$classes"
[[layers]]
type = "sigmoid"
)",
                       kImage),
             kImage);
}

TEST_F(Export, WhatOnnxCannotExpressIsOneError) {
  const Network circular = from_text(R"([[layers]]
type = "conv2d"
channels = 2
kernel = 3
padding = 1
padding_mode = "circular"
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
units = "$classes"
)",
                                     kImage);
  EXPECT_THAT(testing::error_of([&] { onnx_bytes(*circular.module, kImage); }),
              HasSubstr("no circular mode"));
}

}  // namespace
}  // namespace tide
