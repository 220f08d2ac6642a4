// Layers whose behaviour goes beyond their op: running statistics, train/eval differences,
// dropout masks, embedding errors.
#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"
#include "tide/autograd/ops.hpp"
#include "tide/nn/conv_layers.hpp"
#include "tide/nn/layers.hpp"
#include "tide/nn/norm_layers.hpp"
#include "tide/tensor/random.hpp"

namespace tide {
namespace {

using testing::error_of;
using ::testing::HasSubstr;

TEST(BatchNorm, TrainingUpdatesRunningStatisticsAsPyTorch) {
  BatchNorm bn(2, /*momentum=*/0.1);
  // Channel 0 holds 1, 2, 3, 4; channel 1 holds 10, 10, 10, 14 (N = 2, C = 2, S = 2).
  const Variable x(Tensor::from<float>({2, 2, 2}, {1, 2, 10, 10, 3, 4, 10, 14}));
  bn(x);
  const auto mean = bn.state_dict().at("running_mean").to_vector();
  const auto var = bn.state_dict().at("running_var").to_vector();
  EXPECT_NEAR(mean[0], 0.1 * 2.5, 1e-6);
  EXPECT_NEAR(mean[1], 0.1 * 11.0, 1e-6);
  EXPECT_NEAR(var[0], 0.9 + 0.1 * (5.0 / 3.0), 1e-6);  // unbiased variance of 1..4
  EXPECT_NEAR(var[1], 0.9 + 0.1 * 4.0, 1e-6);          // of 10, 10, 10, 14
  EXPECT_EQ(bn.state_dict().at("num_batches_tracked").item(), 1.0);
  // Evaluation uses the running statistics: (x - mean) / sqrt(var + eps).
  bn.eval();
  const auto y = bn(x).value().to_vector();
  EXPECT_NEAR(y[0], (1 - mean[0]) / std::sqrt(var[0] + 1e-5), 1e-5);
  EXPECT_EQ(bn.state_dict().at("num_batches_tracked").item(), 1.0);
}

// Sequential runs Conv2d, ReLU, MaxPool2d in a row as one fused op; the result must be what
// the children give one by one.
TEST(Sequential, FusedConvReluPoolMatchesTheChildrenOneByOne) {
  RngStream init(3, RngPurpose::init), data(3, RngPurpose::test);
  Sequential m;
  m.add(std::make_shared<Conv2d>(3, 8, std::array<int64_t, 2>{3, 3}, init,
                                 Conv2dOptions{.padding = {1, 1}}));
  m.add(make_relu());
  m.add(std::make_shared<MaxPool2d>(Pool2dOptions{}));
  m.add(std::make_shared<Flatten>(1));
  m.add(std::make_shared<Linear>(8 * 4 * 5, 3, init));
  const Tensor x = uniform({2, 3, 9, 11}, -1, 1, data);
  auto grads = [&](bool fused) {
    for (auto& [name, p] : m.named_parameters()) p.zero_grad();
    Variable h(x.clone());
    if (fused) {
      h = m.forward(h);
    } else {
      for (const auto& [name, child] : m.children()) h = child->forward(h);
    }
    sum(h * h).backward();
    std::vector<Tensor> r{h.value()};
    for (const auto& [name, p] : m.named_parameters()) r.push_back(p.grad());
    return r;
  };
  const auto fused = grads(true), plain = grads(false);
  ASSERT_EQ(fused.size(), 5u);  // output, conv weight and bias, linear weight and bias
  for (size_t i = 0; i < fused.size(); ++i)
    testing::expect_close(fused[i], plain[i], "result " + std::to_string(i), 1e-4);
}

TEST(BatchNorm, RejectsWrongChannels) {
  BatchNorm bn(3);
  EXPECT_THAT(error_of([&] { bn(Variable(Tensor::zeros({4, 2}))); }), HasSubstr("3 channels"));
}

TEST(Dropout, MaskFollowsProbabilityStepAndMode) {
  Dropout drop(0.25, /*seed=*/7, /*id=*/0);
  const Variable x(Tensor::full({100000}, 1.0), true);
  drop.begin_step(3);
  const Variable y = drop(x);
  const auto v = y.value().to_vector();
  int zeros = 0;
  for (double e : v) {
    ASSERT_TRUE(e == 0.0 || std::abs(e - 1.0 / 0.75) < 1e-6) << e;
    zeros += e == 0.0;
  }
  EXPECT_NEAR(zeros / 100000.0, 0.25, 0.01);
  sum(y).backward();
  EXPECT_EQ(x.grad().to_vector(), v);  // the gradient is the mask

  drop.begin_step(3);
  EXPECT_EQ(drop(x).value().to_vector(), v);  // same step, same mask
  drop.begin_step(4);
  EXPECT_NE(drop(x).value().to_vector(), v);
  drop.eval();
  EXPECT_EQ(drop(x).value().to_vector(), x.value().to_vector());
}

TEST(Embedding, LooksUpRowsAndRejectsBadIndices) {
  RngStream rng(0, RngPurpose::init);
  Embedding emb(5, 3, rng);
  const Variable ids(Tensor::from<int64_t>({2}, {4, 0}));
  const auto w = emb.weight().value().to_vector();
  const auto y = emb(ids).value().to_vector();
  EXPECT_EQ(std::vector<double>(y.begin(), y.begin() + 3),
            std::vector<double>(w.begin() + 12, w.end()));
  EXPECT_THAT(error_of([&] {
                emb(Variable(Tensor::from<int64_t>({3}, {0, 5, 1})));
              }),
              HasSubstr("index 5 at position 1"));
}

TEST(LayerNorm, RejectsMismatchedTrailingShape) {
  LayerNorm ln(Shape{4});
  EXPECT_THAT(error_of([&] { ln(Variable(Tensor::zeros({2, 5}))); }), HasSubstr("f32[2, 5]"));
  const auto y = ln(Variable(Tensor::from<float>({1, 4}, {1, 2, 3, 4}))).value().to_vector();
  double s = 0;
  for (double e : y) s += e;
  EXPECT_NEAR(s, 0.0, 1e-5);
}

}  // namespace
}  // namespace tide
