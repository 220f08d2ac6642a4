// Gradient clipping and the L1 penalty against PyTorch (tests/fixtures/regularization,
// written by generate.py): clip_grad_norm_, clip_grad_value_, and autograd's gradient of
// l1 * sum |p|.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"
#include "tide/optim/regularize.hpp"
#include "tide/tensor/safetensors.hpp"

namespace tide {
namespace {

const TensorMap& fixture() {
  static const TensorMap f =
      load_safetensors(std::string(TIDE_SOURCE_DIR) + "/tests/fixtures/regularization.safetensors");
  return f;
}

// The fixture's parameters with their gradients; the gradients are shared with a copy
// kept by the caller, so the functions must not write into what someone else holds.
std::vector<Variable> parameters(std::vector<Tensor>* held) {
  std::vector<Variable> ps;
  for (int j = 0; j < 2; ++j) {
    ps.emplace_back(fixture().at(fmt::format("param{}", j)).clone(), true);
    const Tensor g = fixture().at(fmt::format("grad{}", j)).clone();
    held->push_back(g);
    ps.back().accumulate_grad(g);
  }
  return ps;
}

void expect_grads(const std::vector<Variable>& ps, const std::string& key) {
  for (int j = 0; j < 2; ++j)
    testing::expect_close(ps[static_cast<size_t>(j)].grad(),
                          fixture().at(fmt::format("{}{}", key, j)), key, 1e-6);
}

TEST(Regularize, ClipGradNormMatchesPyTorch) {
  std::vector<Tensor> held;
  const auto ps = parameters(&held);
  const double norm = clip_grad_norm(ps, 1.5);
  EXPECT_GT(norm, 1.5);
  expect_grads(ps, "clip_norm");
  EXPECT_EQ(held[0].to_vector(), fixture().at("grad0").to_vector());  // not written in place
  // Under the limit nothing changes.
  const double again = clip_grad_norm(ps, 100.0);
  EXPECT_NEAR(again, 1.5, 1e-5);
  expect_grads(ps, "clip_norm");
}

TEST(Regularize, ClipGradValueMatchesPyTorch) {
  std::vector<Tensor> held;
  const auto ps = parameters(&held);
  clip_grad_value(ps, 0.3);
  expect_grads(ps, "clip_value");
}

TEST(Regularize, L1GradientMatchesPyTorch) {
  std::vector<Tensor> held;
  const auto ps = parameters(&held);
  add_l1_gradient(ps, 0.01, false);
  expect_grads(ps, "l1_");
  // skip_1d leaves the bias alone.
  std::vector<Tensor> held2;
  const auto qs = parameters(&held2);
  add_l1_gradient(qs, 0.01, true);
  testing::expect_close(qs[1].grad(), fixture().at("grad1"), "bias", 0);
  EXPECT_THAT(testing::error_of([&] { add_l1_gradient(qs, -1, false); }),
              ::testing::HasSubstr("--l1 must be >= 0"));
  EXPECT_THAT(testing::error_of([&] { clip_grad_norm(qs, 0); }),
              ::testing::HasSubstr("--clip-norm must be positive"));
}

}  // namespace
}  // namespace tide
