// Fused ops against the ops they fuse: the same values and gradients on odd shapes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"

#include "tide/autograd/ops.hpp"
#include "tide/tensor/random.hpp"

namespace tide::testing {
namespace {

int64_t between(RngStream& rng, int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(rng.below(static_cast<uint64_t>(hi - lo + 1)));
}

TEST(ConvReluMaxpool, MatchesTheThreeOpsOnRandomGeometries) {
  RngStream rng(21, RngPurpose::test);
  for (int trial = 0; trial < 16; ++trial) {
    Conv2dOptions conv;
    conv.groups = between(rng, 1, 2);
    conv.stride = {between(rng, 1, 2), between(rng, 1, 2)};
    conv.padding = {between(rng, 0, 2), between(rng, 0, 2)};
    conv.dilation = {between(rng, 1, 2), 1};
    Pool2dOptions pool;
    pool.kernel = {between(rng, 1, 3), between(rng, 2, 3)};
    pool.stride = {between(rng, 0, 2), between(rng, 0, 2)};
    pool.padding = {between(rng, 0, pool.kernel[0] / 2), 0};
    const int64_t n = between(rng, 1, 3), c_in = conv.groups * between(rng, 1, 3),
                  c_out = conv.groups * between(rng, 1, 9), k = between(rng, 1, 5);
    const int64_t size = 2 * k + 2 * pool.kernel[1] + between(rng, 0, 7);
    const bool with_bias = trial % 3 != 2, input_grad = trial % 4 != 3;
    const Tensor x = uniform({n, c_in, size, size + 1}, -1, 1, rng);
    const Tensor w = uniform({c_out, c_in / conv.groups, k, k}, -1, 1, rng);
    const Tensor b = uniform({c_out}, -1, 1, rng);

    auto run = [&](bool fused) {
      Variable xv(x.clone(), input_grad), wv(w.clone(), true);
      Variable bv = with_bias ? Variable(b.clone(), true) : Variable();
      const Variable y = fused ? conv2d_relu_maxpool(xv, wv, bv, conv, pool)
                               : max_pool2d(relu(conv2d(xv, wv, bv, conv)), pool);
      RngStream g(trial, RngPurpose::test);
      sum(y * Variable(uniform(y.shape(), -1, 1, g))).backward();
      std::vector<Tensor> r{y.value(), wv.grad()};
      if (input_grad) r.push_back(xv.grad());
      if (with_bias) r.push_back(bv.grad());
      return r;
    };
    const auto fused = run(true), plain = run(false);
    ASSERT_EQ(fused.size(), plain.size());
    for (size_t i = 0; i < fused.size(); ++i)
      expect_close(fused[i], plain[i],
                   "trial " + std::to_string(trial) + " result " + std::to_string(i), 1e-4);
  }
}

TEST(ConvReluMaxpool, DoubleComposesTheOpsAndBadShapesNameTheOp) {
  RngStream rng(22, RngPurpose::test);
  const Variable x(uniform({1, 2, 6, 6}, -1, 1, rng, DType::f64), true);
  const Variable w(uniform({3, 2, 3, 3}, -1, 1, rng, DType::f64), true);
  const Variable y = conv2d_relu_maxpool(x, w, Variable(), {}, {});
  expect_close(y.value(), max_pool2d(relu(conv2d(x, w, Variable(), {})), {}).value(), "f64", 0);
  EXPECT_THAT(error_of([&] {
                conv2d_relu_maxpool(Variable(Tensor::zeros({1, 2, 3, 3})),
                                    Variable(Tensor::zeros({3, 2, 3, 3})), Variable(), {},
                                    Pool2dOptions{.kernel = {2, 2}});
              }),
              ::testing::HasSubstr("conv2d_relu_maxpool"));
}

}  // namespace
}  // namespace tide::testing
