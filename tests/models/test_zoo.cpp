// Every model of `tide train --model` builds for MNIST-shaped input, gives (N, classes)
// logits, and can fit one small batch: its loss falls to under a third within 60 SGD steps.
#include <gtest/gtest.h>

#include "tide/autograd/ops.hpp"
#include "tide/models/zoo.hpp"
#include "tide/optim/sgd.hpp"
#include "tide/tensor/random.hpp"

namespace tide {
namespace {

class ModelTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelTest, FitsOneBatch) {
  RngStream rng(1, RngPurpose::init), data(1, RngPurpose::data);
  auto model = make_model(GetParam(), {1, 28, 28}, 10, rng);
  const Variable x(normal({8, 1, 28, 28}, 0.0, 1.0, data));
  Tensor y = Tensor::empty({8}, DType::i64);
  for (int64_t i = 0; i < 8; ++i) y.data<int64_t>()[i] = i % 10;
  Sgd opt(model->parameters(), SgdOptions{.lr = 0.05, .momentum = 0.9});
  double first = 0, last = 0;
  for (int step = 0; step < 60; ++step) {
    opt.zero_grad();
    model->begin_step(step);
    const Variable logits = (*model)(x);
    ASSERT_EQ(logits.shape(), Shape({8, 10}));
    const Variable loss = cross_entropy(logits, y);
    loss.backward();
    opt.step();
    (step == 0 ? first : last) = loss.value().item();
  }
  EXPECT_LT(last, first / 3) << GetParam() << ": loss " << first << " -> " << last;
}

// The cnn's two Conv2d, ReLU, MaxPool2d runs are planned as fused stages (their values and
// gradients equal the unfused layers': tests/nn/test_conv_layers.cpp); nothing else fuses.
TEST(Models, TheCnnRunsItsConvReluPoolBlocksFused) {
  RngStream rng(1, RngPurpose::init);
  EXPECT_EQ(make_model("cnn", {1, 28, 28}, 10, rng)->describe(),
            "Sequential(fused: 0-2 conv2d_relu_maxpool, 3-5 conv2d_relu_maxpool)");
  EXPECT_EQ(make_model("mlp", {1, 28, 28}, 10, rng)->describe(), "Sequential");
}

INSTANTIATE_TEST_SUITE_P(Models, ModelTest, ::testing::ValuesIn(model_names()),
                         [](const auto& info) { return info.param; });

// The mlp's options: width, batch norm in place of the hidden biases, dropout that acts in
// training only; PyTorch's names for a Sequential of the same layers.
TEST(Models, MlpOptionsShapeTheNetwork) {
  RngStream rng(1, RngPurpose::init), data(1, RngPurpose::data);
  auto m = make_model("mlp", {1, 28, 28}, 10, rng,
                      {.hidden = 32, .dropout = 0.5, .batch_norm = true, .seed = 3});
  std::vector<std::string> names;
  for (const auto& [name, p] : m->named_parameters()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"1.weight", "2.weight", "2.bias", "5.weight",
                                             "6.weight", "6.bias", "9.weight", "9.bias"}));
  EXPECT_EQ(m->num_parameters(), 784 * 32 + 2 * 32 + 32 * 32 + 2 * 32 + 32 * 10 + 10);
  const Variable x(normal({16, 1, 28, 28}, 0.0, 1.0, data));
  m->begin_step(0);
  const Tensor a = (*m)(x).value(), b = (*m)(x).value();
  EXPECT_NE(a.to_vector(), b.to_vector());  // two calls, two dropout masks
  m->eval();
  EXPECT_EQ((*m)(x).value().to_vector(), (*m)(x).value().to_vector());

  RngStream again(1, RngPurpose::init);
  EXPECT_THROW(make_model("cnn", {1, 28, 28}, 10, again, {.dropout = 0.5}), Error);
  EXPECT_THROW(make_model("mlp", {1, 28, 28}, 10, again, {.hidden = 0}), Error);
}

TEST(Models, UnknownNameListsTheKnownOnes) {
  RngStream rng(0, RngPurpose::init);
  try {
    make_model("resnet", {1, 28, 28}, 10, rng);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("transformer"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tide
