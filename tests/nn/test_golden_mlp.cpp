// The end-to-end golden test: 5 SGD steps (momentum 0.9, weight decay 1e-3) of a small MLP
// from PyTorch's initial weights on PyTorch's data give PyTorch's losses and final weights.
// Fixture: tests/fixtures/generate.py (write_golden_mlp).
#include <cmath>

#include <gtest/gtest.h>

#include "tide/autograd/ops.hpp"
#include "tide/nn/layers.hpp"
#include "tide/optim/sgd.hpp"

namespace tide {
namespace {

TEST(GoldenMlp, FiveSgdStepsMatchPyTorch) {
  const TensorMap fx =
      load_safetensors(std::string(TIDE_SOURCE_DIR) + "/tests/fixtures/golden_mlp.safetensors");
  RngStream rng(0, RngPurpose::init);
  Sequential model;
  model.add(std::make_shared<Linear>(20, 32, rng));
  model.add(make_relu());
  model.add(std::make_shared<Linear>(32, 16, rng));
  model.add(make_relu());
  model.add(std::make_shared<Linear>(16, 5, rng));
  TensorMap initial, final_state;
  for (const auto& [name, t] : fx) {
    if (name.starts_with("initial.")) initial.emplace(name.substr(8), t);
    if (name.starts_with("final.")) final_state.emplace(name.substr(6), t);
  }
  model.load_state_dict(initial);
  Sgd opt(model.parameters(), SgdOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-3});

  const Tensor& x = fx.at("x");
  const Tensor& y = fx.at("y");
  const auto expected = fx.at("losses").to_vector();
  ASSERT_EQ(expected.size(), 5u);
  for (int64_t s = 0; s < 5; ++s) {
    opt.zero_grad();
    const Variable loss = cross_entropy(model(Variable(x.slice(s, s + 1).reshape({8, 20}))),
                                        y.slice(s, s + 1).reshape({8}));
    loss.backward();
    opt.step();
    EXPECT_NEAR(loss.value().item(), expected[s], 1e-5 * std::abs(expected[s]))
        << "loss of step " << s;
  }
  for (const auto& [name, t] : model.state_dict()) {
    const auto got = t.to_vector(), want = final_state.at(name).to_vector();
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], want[i], 1e-5) << name << " element " << i;
  }
}

}  // namespace
}  // namespace tide
