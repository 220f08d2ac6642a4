// Conv2d's padding modes against PyTorch's nn.Conv2d; the fusion pass fuse_conv_relu_maxpool:
// which runs of a Sequential it fuses, and that a fused run gives the values and gradients of
// its children one by one, also with padding modes and pooling options the fused pipeline
// does not have.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"
#include "tide/autograd/ops.hpp"
#include "tide/nn/conv_layers.hpp"
#include "tide/nn/layers.hpp"
#include "tide/tensor/random.hpp"
#include "tide/tensor/safetensors.hpp"

namespace tide {
namespace {

using K2 = std::array<int64_t, 2>;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A Conv2d that counts its forward() calls: the fused stage calls forward_relu_maxpool
// instead, so the count tells which way a Sequential ran.
class CountingConv2d : public Conv2d {
 public:
  using Conv2d::Conv2d;
  Variable forward(const Variable& x) override {
    ++calls;
    return Conv2d::forward(x);
  }
  int calls = 0;
};

std::shared_ptr<CountingConv2d> conv(int64_t in, int64_t out, RngStream& rng) {
  return std::make_shared<CountingConv2d>(in, out, K2{3, 3}, rng, Conv2dOptions{.padding = {1, 1}});
}
std::shared_ptr<Module> pool() {
  return std::make_shared<MaxPool2d>(Pool2dOptions{});
}

std::vector<bool> fused_children(const Sequential& m) {
  std::vector<bool> fused;
  for (size_t i = 0; i < m.size(); ++i) fused.push_back(m.is_fused(i));
  return fused;
}

// The output and every parameter's gradient of sum(m(x)^2), computed by m.forward or, when
// one_by_one, by the children in order.
std::vector<Tensor> output_and_grads(Sequential& m, const Tensor& x, bool one_by_one) {
  for (auto& [name, p] : m.named_parameters()) p.zero_grad();
  Variable h(x.clone());
  if (one_by_one) {
    for (const auto& [name, child] : m.children()) h = child->forward(h);
  } else {
    h = m.forward(h);
  }
  sum(h * h).backward();
  std::vector<Tensor> r{h.value()};
  for (const auto& [name, p] : m.named_parameters()) r.push_back(p.grad());
  return r;
}

TEST(FuseConvReluMaxPool, FusedRunGivesTheValuesAndGradientsOfItsChildren) {
  RngStream init(3, RngPurpose::init), data(3, RngPurpose::test);
  Sequential m;
  auto c = conv(3, 8, init);
  m.add(c);
  m.add(make_relu());
  m.add(pool());
  m.add(std::make_shared<Flatten>(1));
  m.add(std::make_shared<Linear>(8 * 4 * 5, 3, init));
  const auto names = m.state_dict();
  ASSERT_EQ(fuse_conv_relu_maxpool(m), 1);
  EXPECT_THAT(fused_children(m), ElementsAre(true, true, true, false, false));
  EXPECT_EQ(m.describe(), "Sequential(fused: 0-2 conv2d_relu_maxpool)");
  std::vector<std::string> before, after;
  for (const auto& [name, t] : names) before.push_back(name);
  for (const auto& [name, t] : m.state_dict()) after.push_back(name);
  EXPECT_EQ(after, before);

  const Tensor x = uniform({2, 3, 9, 11}, -1, 1, data);
  const auto fused = output_and_grads(m, x, false);
  EXPECT_EQ(c->calls, 0);  // the fused op ran, not Conv2d::forward
  const auto plain = output_and_grads(m, x, true);
  EXPECT_EQ(c->calls, 1);
  ASSERT_EQ(fused.size(), 5u);  // output, conv weight and bias, linear weight and bias
  for (size_t i = 0; i < fused.size(); ++i)
    testing::expect_close(fused[i], plain[i], "result " + std::to_string(i), 1e-4);
}

// Without the pass nothing is fused, even where the pass would fuse: the plan is what the
// Sequential was given.
TEST(FuseConvReluMaxPool, SequentialNotFusedRunsItsChildrenOneByOne) {
  RngStream init(6, RngPurpose::init), data(6, RngPurpose::test);
  Sequential m;
  auto c = conv(2, 4, init);
  m.add(c);
  m.add(make_relu());
  m.add(pool());
  const Variable x(uniform({1, 2, 6, 6}, -1, 1, data));
  const Tensor y = m(x).value();
  EXPECT_EQ(c->calls, 1);
  EXPECT_EQ(m.describe(), "Sequential");
  EXPECT_THAT(fused_children(m), ElementsAre(false, false, false));
  Variable h = c->Conv2d::forward(x);
  h = max_pool2d(relu(h), Pool2dOptions{});
  EXPECT_EQ(y.to_vector(), h.value().to_vector());
}

// Only Conv2d, ReLU, MaxPool2d in a row: another pooling, another activation or the end of
// the Sequential after Conv2d, ReLU leaves them to run one by one.
TEST(FuseConvReluMaxPool, LeavesOtherRunsAlone) {
  RngStream init(7, RngPurpose::init), data(7, RngPurpose::test);
  Sequential m;
  auto avg = conv(2, 2, init), sigmoid = conv(2, 2, init), fused = conv(2, 2, init),
       last = conv(2, 2, init);
  m.add(avg).add(make_relu()).add(std::make_shared<AvgPool2d>(Pool2dOptions{}));  // 0-2
  m.add(sigmoid).add(make_sigmoid()).add(pool());                                 // 3-5
  m.add(fused).add(make_relu()).add(pool());                                      // 6-8
  m.add(last).add(make_relu());                                                   // 9-10
  EXPECT_EQ(fuse_conv_relu_maxpool(m), 1);
  EXPECT_THAT(fused_children(m), ElementsAre(false, false, false, false, false, false, true, true,
                                             true, false, false));
  EXPECT_EQ(m.describe(), "Sequential(fused: 6-8 conv2d_relu_maxpool)");
  m(Variable(uniform({1, 2, 16, 16}, -1, 1, data)));
  EXPECT_EQ(avg->calls, 1);
  EXPECT_EQ(sigmoid->calls, 1);
  EXPECT_EQ(fused->calls, 0);
  EXPECT_EQ(last->calls, 1);
}

// The pass reaches Sequentials inside other modules (Inception's branches sit in a Concat),
// and a second call finds nothing left to fuse.
TEST(FuseConvReluMaxPool, FusesNestedSequentialsOnce) {
  RngStream init(8, RngPurpose::init), data(8, RngPurpose::test);
  auto branch = [&] {
    auto s = std::make_shared<Sequential>();
    s->add(conv(2, 3, init)).add(make_relu()).add(pool());
    return s;
  };
  auto a = branch(), b = branch();
  auto block = std::make_shared<Concat>(1);
  block->add(a).add(b);
  Sequential top;
  top.add(block).add(make_relu());
  EXPECT_EQ(fuse_conv_relu_maxpool(top), 2);
  EXPECT_EQ(fuse_conv_relu_maxpool(top), 0);
  EXPECT_EQ(top.describe(), "Sequential");
  EXPECT_EQ(a->describe(), "Sequential(fused: 0-2 conv2d_relu_maxpool)");
  EXPECT_EQ(b->describe(), "Sequential(fused: 0-2 conv2d_relu_maxpool)");
  EXPECT_THAT(top.summary(), HasSubstr("(1) Sequential(fused: 0-2 conv2d_relu_maxpool)"));
  EXPECT_EQ(top(Variable(uniform({1, 2, 4, 4}, -1, 1, data))).shape(), Shape({1, 6, 2, 2}));
  EXPECT_EQ(std::static_pointer_cast<CountingConv2d>(a->children()[0].second)->calls, 0);
}

// torch.nn.Conv2d(3, 4, (3, 2), stride (2, 1), padding (2, 1), padding_mode reflect or
// circular) on (2, 3, 7, 6), tests/fixtures/modules/conv2d_<mode>: output, input gradient and
// parameter gradients.
TEST(Conv2dPaddingMode, ReflectAndCircularMatchPyTorch) {
  for (const auto [name, mode] :
       {std::pair{"reflect", PaddingMode::reflect}, std::pair{"circular", PaddingMode::circular}}) {
    const TensorMap f = load_safetensors(std::string(TIDE_SOURCE_DIR) +
                                         "/tests/fixtures/modules/conv2d_" + name + ".safetensors");
    RngStream rng(0, RngPurpose::init);
    Conv2d conv(3, 4, K2{3, 2}, rng,
                Conv2dOptions{.stride = {2, 1}, .padding = {2, 1}, .padding_mode = mode});
    conv.load_state_dict({{"weight", f.at("param.weight")}, {"bias", f.at("param.bias")}});
    EXPECT_THAT(conv.describe(), HasSubstr(std::string("padding 2x1 ") + name));
    Variable x(f.at("input.x").clone(), true);
    const Variable out = conv(x);
    testing::expect_close(out.value(), f.at("output"), std::string(name) + " output");
    out.backward(f.at("grad_output"));
    testing::expect_close(x.grad(), f.at("grad_input.x"), std::string(name) + " grad x");
    testing::expect_close(conv.weight().grad(), f.at("grad.weight"),
                          std::string(name) + " grad weight");
    testing::expect_close(conv.bias().grad(), f.at("grad.bias"), std::string(name) + " grad bias");
  }
}

// Reflect padding must be smaller than the input, as PyTorch's; the error names the op and
// the sizes.
TEST(Conv2dPaddingMode, ReflectPaddingAsLargeAsTheInputIsAnError) {
  RngStream rng(1, RngPurpose::init);
  Conv2d conv(1, 1, K2{3, 3}, rng,
              Conv2dOptions{.padding = {3, 1}, .padding_mode = PaddingMode::reflect});
  EXPECT_EQ(conv(Variable(Tensor::zeros({1, 1, 4, 4}))).shape(), Shape({1, 1, 8, 4}));
  EXPECT_EQ(testing::error_of([&] {
              conv(Variable(Tensor::zeros({1, 1, 3, 5})));
            }),
            "conv2d: reflect padding (1, 1, 3, 3) must be smaller than the input's height 3 "
            "(input [1, 1, 3, 5])");
}

// A reflect-padded Conv2d, ReLU and a ceil-mode or dilated MaxPool2d still fuse: the stage pads
// explicitly and composes the three ops where the fused pipeline cannot pool; the values and
// gradients are those of the children one by one.
TEST(FuseConvReluMaxPool, PaddingModesAndPoolingOptionsGiveTheValuesOfTheChildren) {
  const Pool2dOptions plain{}, ceil{.kernel = {3, 3}, .stride = {2, 2}, .ceil_mode = true},
      dilated{.kernel = {2, 2}, .stride = {1, 2}, .padding = {1, 1}, .dilation = {2, 1}};
  for (const Pool2dOptions& p : {plain, ceil, dilated}) {
    RngStream init(9, RngPurpose::init), data(9, RngPurpose::test);
    Sequential m;
    auto c = std::make_shared<CountingConv2d>(
        3, 4, K2{3, 3}, init,
        Conv2dOptions{.padding = {1, 2}, .padding_mode = PaddingMode::reflect});
    m.add(c).add(make_relu()).add(std::make_shared<MaxPool2d>(p));
    ASSERT_EQ(fuse_conv_relu_maxpool(m), 1);
    const Tensor x = uniform({2, 3, 8, 7}, -1, 1, data);
    const auto fused = output_and_grads(m, x, false);
    EXPECT_EQ(c->calls, 0);
    const auto plain_run = output_and_grads(m, x, true);
    ASSERT_EQ(fused.size(), 3u);
    for (size_t i = 0; i < fused.size(); ++i)
      testing::expect_close(fused[i], plain_run[i],
                            m.children()[2].second->describe() + " result " + std::to_string(i),
                            1e-4);
  }
}

}  // namespace
}  // namespace tide
