// Graph semantics: accumulation, shared inputs, no_grad, detach, errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tide/autograd/ops.hpp"

namespace tide {
namespace {

using ::testing::HasSubstr;

Variable leaf(std::vector<float> v, bool grad = true) {
  const int64_t n = static_cast<int64_t>(v.size());
  return Variable(Tensor::from<float>({n}, v), grad);
}

TEST(Variable, GradientsOfAReusedInputAdd) {
  Variable x = leaf({1, 2, 3});
  sum(x * x + x).backward();  // d/dx = 2x + 1
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{3, 5, 7}));
}

TEST(Variable, BackwardTwiceAccumulatesUntilZeroGrad) {
  Variable x = leaf({1, 2});
  sum(x * 3.0).backward();
  sum(x * 3.0).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{6, 6}));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
  sum(x * 2.0).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{2, 2}));
}

TEST(Variable, InputsWithoutGradGetNone) {
  Variable x = leaf({1, 2}), c = leaf({5, 7}, false);
  sum(x * c).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{5, 7}));
  EXPECT_FALSE(c.grad().defined());
}

TEST(Variable, NoGradRecordsNothing) {
  Variable x = leaf({1, 2});
  Variable y;
  {
    NoGradGuard guard;
    y = x * 2.0;
  }
  EXPECT_FALSE(y.requires_grad());
  EXPECT_TRUE(y.is_leaf());
  EXPECT_TRUE(grad_enabled());
  EXPECT_EQ(y.value().to_vector(), (std::vector<double>{2, 4}));
}

TEST(Variable, DetachStopsGradient) {
  Variable x = leaf({2, 3});
  sum(x * (x * 1.0).detach()).backward();  // the detached factor is a constant
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{2, 3}));
}

TEST(Variable, DeepChainDoesNotOverflowTheStack) {
  Variable x = leaf({1});
  Variable y = x;
  for (int i = 0; i < 100000; ++i) y = y + 1.0;
  sum(y).backward();
  EXPECT_EQ(x.grad().item(), 1.0);
  // A graph dropped without backward (as in evaluation) is freed without recursion too.
  Variable z = x;
  for (int i = 0; i < 100000; ++i) z = z * 1.0;
  z = Variable();
  EXPECT_TRUE(x.requires_grad());
}

TEST(Variable, GradientIsNotSharedWithTheCallersTensor) {
  Variable x = leaf({1, 2});
  Tensor g = Tensor::from<float>({2}, {1, 1});
  Variable y = x + 0.0;
  y.backward(g);
  (x + 0.0).backward(g);  // accumulating must not write into g
  EXPECT_EQ(g.to_vector(), (std::vector<double>{1, 1}));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{2, 2}));
}

TEST(Variable, SecondBackwardThroughAFreedGraphIsAnError) {
  Variable x = leaf({1, 2});
  Variable y = x * 2.0;
  Variable a = sum(y), b = sum(relu(y));
  a.backward();
  try {
    b.backward();  // reaches y, whose node a.backward() consumed
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("'affine' a second time"));
  }
  EXPECT_THROW(a.backward(), Error);
}

TEST(Variable, ErrorsNameTheShapes) {
  Variable a(Tensor::zeros({2, 3}), true), b(Tensor::zeros({4, 5}), true);
  try {
    matmul(a, b);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("f32[2, 3]"));
    EXPECT_THAT(e.what(), HasSubstr("f32[4, 5]"));
  }
  EXPECT_THROW(a + b, Error);
  EXPECT_THROW(a.backward(), Error);                                          // not a scalar
  EXPECT_THROW(cross_entropy(a, Tensor::from<int64_t>({2}, {0, 3})), Error);  // label 3 >= 3
}

}  // namespace
}  // namespace tide
