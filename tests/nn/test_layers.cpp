// Layers whose behaviour goes beyond their op: Sequential's plan of stages, running
// statistics, train/eval differences, dropout masks, embedding errors.
#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"
#include "tide/autograd/ops.hpp"
#include "tide/nn/layers.hpp"
#include "tide/nn/norm_layers.hpp"
#include "tide/tensor/random.hpp"
#include "tide/tensor/safetensors.hpp"

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

std::vector<std::string> parameter_names(const Module& m) {
  std::vector<std::string> names;
  for (const auto& [name, p] : m.named_parameters()) names.push_back(name);
  return names;
}

// forward() computes a fused stage by the stage's function, not by the children; the children
// keep their parameters and names. The stage here deliberately differs from its children
// (1 + tanh(x) in place of tanh(x)) so that which one ran shows in the value.
TEST(Sequential, ForwardFollowsItsPlan) {
  RngStream init(4, RngPurpose::init), data(4, RngPurpose::test);
  Sequential m;
  m.add(std::make_shared<Linear>(3, 2, init));
  m.add(make_tanh());
  m.add(std::make_shared<Linear>(2, 2, init));
  const Variable x(uniform({5, 3}, -1, 1, data));
  auto by_hand = [&](bool plus_one) {
    Variable h = (*m.children()[0].second)(x);
    h = (*m.children()[1].second)(h);
    if (plus_one) h = h + 1.0;
    return (*m.children()[2].second)(h).value();
  };
  EXPECT_EQ(m.describe(), "Sequential");
  EXPECT_EQ(m.plan().size(), 3u);
  EXPECT_EQ(m(x).value().to_vector(), by_hand(false).to_vector());

  auto tanh_then_linear = m.children()[2].second;
  m.fuse(1, 2, "tanh_plus_one_linear", [tanh_then_linear](const Variable& h) {
    return (*tanh_then_linear)(tide::tanh(h) + 1.0);
  });
  EXPECT_EQ(m.plan().size(), 2u);
  EXPECT_FALSE(m.is_fused(0));
  EXPECT_TRUE(m.is_fused(1));
  EXPECT_TRUE(m.is_fused(2));
  EXPECT_EQ(m.describe(), "Sequential(fused: 1-2 tanh_plus_one_linear)");
  EXPECT_EQ(m(x).value().to_vector(), by_hand(true).to_vector());
  EXPECT_EQ(parameter_names(m),
            (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"}));
}

TEST(Sequential, FuseRefusesRunsItCannotTake) {
  Sequential m;
  for (int i = 0; i < 4; ++i) m.add(make_relu());
  const auto identity = [](const Variable& x) { return x; };
  EXPECT_THAT(error_of([&] { m.fuse(0, 1, "one", identity); }),
              HasSubstr("1 children from child 0 of 4"));
  EXPECT_THAT(error_of([&] { m.fuse(3, 2, "past_the_end", identity); }),
              HasSubstr("2 children from child 3 of 4"));
  EXPECT_THAT(error_of([&] { m.fuse(0, 2, "no_function", {}); }), HasSubstr("needs a function"));
  m.fuse(1, 2, "middle", identity);
  EXPECT_THAT(error_of([&] { m.fuse(2, 2, "overlap", identity); }),
              HasSubstr("child 2 already runs fused"));
  EXPECT_THAT(error_of([&] { m.fuse(0, 2, "overlap", identity); }),
              HasSubstr("child 1 already runs fused"));
  // A refused fuse leaves the plan as it was.
  EXPECT_EQ(m.describe(), "Sequential(fused: 1-2 middle)");
  EXPECT_EQ(m.plan().size(), 3u);
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

// As torch.nn.Embedding(7, 3, padding_idx=3) (its initial weight in
// tests/fixtures/embedding_padding): the padding row starts at zero, the others do not, and
// the row gets no gradient through the layer.
TEST(Embedding, PaddingRowStartsAtZeroAndGetsNoGradient) {
  const TensorMap f = load_safetensors(std::string(TIDE_SOURCE_DIR) +
                                       "/tests/fixtures/embedding_padding.safetensors");
  const auto torch_init = f.at("init_weight").to_vector();
  RngStream rng(0, RngPurpose::init);
  Embedding emb(7, 3, rng, -4);
  EXPECT_EQ(emb.describe(), "Embedding(7, 3, padding_idx=3)");
  const auto w = emb.weight().value().to_vector();
  for (size_t i = 0; i < w.size(); ++i)
    if (i / 3 == 3)
      EXPECT_EQ(w[i], torch_init[i]) << "element " << i;
    else
      EXPECT_NE(w[i], 0.0) << "element " << i;
  sum(emb(Variable(Tensor::from<int64_t>({3}, {3, 0, 3})))).backward();
  const auto g = emb.weight().grad().to_vector();
  EXPECT_EQ(std::vector<double>(g.begin() + 9, g.begin() + 12), std::vector<double>(3, 0.0));
  EXPECT_EQ(std::vector<double>(g.begin(), g.begin() + 3), std::vector<double>(3, 1.0));
  EXPECT_THAT(error_of([&] { Embedding(7, 3, rng, 7); }), HasSubstr("padding_idx 7"));
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
