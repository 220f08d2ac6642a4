// The ops that the autocast table runs in bf16, against torch.autocast("cpu",
// dtype=torch.bfloat16) (tests/fixtures/autocast, written by generate.py): outputs and input
// gradients. The tolerances are relative to the largest reference value, and stated per op:
// 3 % for products and recurrences, 4 % for the convolution. bf16 keeps 8 bits of mantissa
// (a relative rounding of up to 2^-9 = 0.2 %), but the reference is coarser than that:
// PyTorch rounds every bf16 op's output (and its backward's) to bf16 where Tide keeps f32,
// Debian's PyTorch 1.13 CPU bf16 matrix product rounds partial sums to bf16 for some layouts
// (its matmul fixture is 2.1 % off the exact product of the rounded operands, where f32 is
// 0.2 % off), and its reference convolution (mkldnn off) does too. tests/kernels/test_bf16
// holds Tide's products to the exact ones at f32 accumulation error.
#include <functional>
#include <ostream>

#include <gtest/gtest.h>

#include "support/testing.hpp"
#include "tide/autograd/autocast.hpp"
#include "tide/autograd/ops.hpp"
#include "tide/kernels/cpu.hpp"
#include "tide/tensor/random.hpp"
#include "tide/tensor/safetensors.hpp"

namespace tide {
namespace {

struct AutocastCase {
  std::string name;
  double tol;  // of max |expected|, for the output and every gradient
  std::function<Variable(const std::vector<Variable>&)> fn;
};
// How GoogleTest names a case in its listing (else it prints the struct's bytes).
void PrintTo(const AutocastCase& c, std::ostream* os) {
  *os << c.name;
}

std::vector<AutocastCase> cases() {
  using V = std::vector<Variable>;
  return {
      {"linear", 3e-2, [](const V& v) { return linear(v[0], v[1], v[2]); }},
      {"linear_relu", 3e-2, [](const V& v) { return linear_relu(v[0], v[1], v[2]); }},
      {"matmul", 3e-2, [](const V& v) { return matmul(v[0], v[1]); }},
      {"bmm_nt", 3e-2, [](const V& v) { return bmm(v[0], v[1], false, true, 0.125); }},
      {"bmm_nn", 3e-2, [](const V& v) { return bmm(v[0], v[1]); }},
      {"conv2d", 4e-2,
       [](const V& v) {
         Conv2dOptions o;
         o.padding = {1, 1};
         return conv2d(v[0], v[1], v[2], o);
       }},
      {"lstm", 3e-2,
       [](const V& v) {
         const Variable packed = lstm_sequence(v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
         return reshape(packed, Shape({v[0].dim(0), -1}));
       }},
      {"rnn_tanh", 3e-2,
       [](const V& v) {
         const Variable packed = rnn_sequence(v[0], v[1], v[2], v[3], v[4], v[5], false);
         return reshape(packed, Shape({v[0].dim(0), -1}));
       }},
  };
}

double relative_error(const Tensor& actual, const Tensor& expected) {
  const auto a = actual.to_vector(), e = expected.to_vector();
  double err = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    err = std::max(err, std::abs(a[i] - e[i]));
    scale = std::max(scale, std::abs(e[i]));
  }
  return err / scale;
}

class AutocastTest : public ::testing::TestWithParam<AutocastCase> {};

TEST_P(AutocastTest, MatchesTorchAutocast) {
  const AutocastCase& c = GetParam();
  if (!bf16_native()) GTEST_SKIP() << "no native bf16 here: oneDNN uses " << cpu_isa_name();
  const TensorMap fx = load_safetensors(std::string(TIDE_SOURCE_DIR) + "/tests/fixtures/autocast/" +
                                        c.name + ".safetensors");
  std::vector<Variable> inputs;
  for (int i = 0; fx.count("input" + std::to_string(i)); ++i)
    inputs.emplace_back(fx.at("input" + std::to_string(i)).clone(), true);
  Variable out, out_f32;
  {
    Autocast bf16(Precision::bf16);
    ASSERT_EQ(bf16.precision(), Precision::bf16) << "this test needs native bf16";
    out = c.fn(inputs);
  }
  ASSERT_EQ(out.shape(), fx.at("output").shape());
  EXPECT_LT(relative_error(out.value(), fx.at("output")), c.tol) << c.name << " output";
  // Backward runs outside the scope and still computes in bf16, as its forward did.
  out.backward(fx.at("grad_output"));
  for (size_t i = 0; i < inputs.size(); ++i)
    EXPECT_LT(relative_error(inputs[i].grad(), fx.at("grad_input" + std::to_string(i))), c.tol)
        << c.name << " gradient of input " << i;
  // The same op in f32 is measurably further from PyTorch's bf16 than bf16 rounding allows
  // of an f32 computation: it did not run in bf16.
  std::vector<Variable> f32_inputs;
  for (const Variable& v : inputs) f32_inputs.emplace_back(v.value(), true);
  out_f32 = c.fn(f32_inputs);
  EXPECT_GT(relative_error(out_f32.value(), out.value()), 1e-4) << c.name;
  // And backward too: its gradients are bf16's, not those of an f32 backward.
  out_f32.backward(fx.at("grad_output"));
  for (size_t i = 0; i < inputs.size(); ++i)
    EXPECT_GT(relative_error(f32_inputs[i].grad(), inputs[i].grad()), 1e-4)
        << c.name << " gradient of input " << i << " as in f32";
}

INSTANTIATE_TEST_SUITE_P(Bf16, AutocastTest, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

TEST(Autocast, TableAndScopes) {
  EXPECT_EQ(precision_of(CastOp::linear), Precision::f32);  // no scope: f32
  {
    Autocast outer(Precision::bf16);
    EXPECT_EQ(outer.precision(), bf16_native() ? Precision::bf16 : Precision::f32);
    EXPECT_EQ(precision_of(CastOp::linear), outer.precision());
    EXPECT_EQ(precision_of(CastOp::gru), Precision::f32);  // the table keeps GRU in f32
    {
      Autocast inner(Precision::f32);
      EXPECT_EQ(precision_of(CastOp::conv2d), Precision::f32);
    }
    EXPECT_EQ(precision_of(CastOp::conv2d), outer.precision());
  }
  EXPECT_EQ(precision_of(CastOp::conv2d), Precision::f32);
  for (const AutocastRule& rule : autocast_table()) EXPECT_FALSE(rule.name.empty());
  EXPECT_EQ(autocast_table().size(), 7u);
}

TEST(Autocast, OpsOutsideTheTableStayF32) {
  RngStream rng(3, RngPurpose::test);
  const Tensor x = uniform({8, 33}, -4.0, 4.0, rng);
  const Tensor f32 = softmax(Variable(x), 1).value();
  Autocast bf16(Precision::bf16);
  EXPECT_EQ(softmax(Variable(x), 1).value().to_vector(), f32.to_vector());
}

}  // namespace
}  // namespace tide
