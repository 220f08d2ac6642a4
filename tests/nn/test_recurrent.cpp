// RNN, GRU and LSTM against PyTorch: outputs, final states, and the gradients of the input,
// the initial states and every parameter (fixtures: write_recurrent_fixtures in
// tests/fixtures/generate.py).
#include <cmath>
#include <tuple>

#include <gtest/gtest.h>

#include "support/testing.hpp"

#include "tide/autograd/ops.hpp"
#include "tide/nn/recurrent.hpp"
#include "tide/tensor/random.hpp"

namespace tide {
namespace {

using testing::expect_close;

class RecurrentTest : public ::testing::TestWithParam<std::pair<std::string, RecurrentKind>> {};

// Both paths: the fused oneDNN primitive (LSTM) and the step-by-step composition.
void check_against_pytorch(const std::string& name, RecurrentKind kind, bool fused) {
  const TensorMap fx = load_safetensors(std::string(TIDE_SOURCE_DIR) + "/tests/fixtures/modules/" +
                                        name + ".safetensors");
  RngStream rng(0, RngPurpose::init);
  Recurrent m({.kind = kind, .input_size = 4, .hidden_size = 6, .num_layers = 2, .fused = fused},
              rng);
  TensorMap params;
  for (const auto& [k, t] : fx)
    if (k.starts_with("param.")) params.emplace(k.substr(6), t);
  m.load_state_dict(params);

  const bool lstm = kind == RecurrentKind::lstm;
  Variable x(fx.at("x").clone(), true), h0(fx.at("h0").clone(), true);
  Variable c0 = lstm ? Variable(fx.at("c0").clone(), true) : Variable();
  const RecurrentOutput out = m.run(x, h0, c0);
  expect_close(out.output.value(), fx.at("output"), "output", 2e-5);
  expect_close(out.h_n.value(), fx.at("h_n"), "h_n", 2e-5);
  Variable loss =
      sum(out.output * Variable(fx.at("grad_output"))) + sum(out.h_n * Variable(fx.at("grad_h_n")));
  if (lstm) {
    expect_close(out.c_n.value(), fx.at("c_n"), "c_n", 2e-5);
    loss = loss + sum(out.c_n * Variable(fx.at("grad_c_n")));
  }
  loss.backward();
  expect_close(x.grad(), fx.at("grad_x"), "grad x", 2e-5);
  expect_close(h0.grad(), fx.at("grad_h0"), "grad h0", 2e-5);
  if (lstm) expect_close(c0.grad(), fx.at("grad_c0"), "grad c0", 2e-5);
  for (const auto& [pname, p] : m.named_parameters())
    expect_close(p.grad(), fx.at("grad." + pname), "grad " + pname, 2e-5);
}

TEST_P(RecurrentTest, FusedMatchesPyTorch) {
  check_against_pytorch(GetParam().first, GetParam().second, true);
}

TEST_P(RecurrentTest, StepByStepMatchesPyTorch) {
  check_against_pytorch(GetParam().first, GetParam().second, false);
}

// The oneDNN primitive against the step-by-step composition (the reference path) on odd
// sizes: same weights, outputs, final states and every gradient.
TEST_P(RecurrentTest, FusedMatchesStepByStepOnOddShapes) {
  const RecurrentKind kind = GetParam().second;
  const bool lstm = kind == RecurrentKind::lstm;
  for (auto [batch, steps, input, hidden, layers] :
       {std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t>{3, 7, 5, 9, 2},
        {1, 1, 1, 1, 1},
        {5, 13, 11, 3, 3}}) {
    RngStream init(7, RngPurpose::init), data(7, RngPurpose::test);
    const RecurrentOptions o{
        .kind = kind, .input_size = input, .hidden_size = hidden, .num_layers = layers};
    Recurrent fused(o, init);
    RecurrentOptions step_options = o;
    step_options.fused = false;
    Recurrent step(step_options, init);
    step.load_state_dict(fused.state_dict());
    const Tensor x = uniform({batch, steps, input}, -1, 1, data);
    const Tensor h0 = uniform({layers, batch, hidden}, -1, 1, data);
    const Tensor c0 = uniform({layers, batch, hidden}, -1, 1, data);
    const Tensor dy = uniform({batch, steps, hidden}, -1, 1, data);
    const Tensor dh = uniform({layers, batch, hidden}, -1, 1, data);
    auto run = [&](Recurrent& m) {
      Variable xv(x.clone(), true), hv(h0.clone(), true);
      Variable cv = lstm ? Variable(c0.clone(), true) : Variable();
      const RecurrentOutput out = m.run(xv, hv, cv);
      Variable loss = sum(out.output * Variable(dy)) + sum(out.h_n * Variable(dh));
      if (lstm) loss = loss + sum(out.c_n * Variable(dh));
      loss.backward();
      std::vector<Tensor> r{out.output.value(), out.h_n.value(), xv.grad(), hv.grad()};
      if (lstm) r.insert(r.end(), {out.c_n.value(), cv.grad()});
      for (const auto& [name, p] : m.named_parameters()) r.push_back(p.grad());
      return r;
    };
    const auto a = run(fused), b = run(step);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
      expect_close(a[i], b[i],
                   "result " + std::to_string(i) + " at hidden " + std::to_string(hidden), 1e-4);
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, RecurrentTest,
                         ::testing::Values(std::pair{"rnn_tanh", RecurrentKind::rnn_tanh},
                                           std::pair{"rnn_relu", RecurrentKind::rnn_relu},
                                           std::pair{"gru", RecurrentKind::gru},
                                           std::pair{"lstm", RecurrentKind::lstm}),
                         [](const auto& info) { return info.param.first; });

TEST(Recurrent, RejectsWrongInputAndState) {
  RngStream rng(0, RngPurpose::init);
  Recurrent m({.kind = RecurrentKind::gru, .input_size = 4, .hidden_size = 6}, rng);
  EXPECT_THROW(m(Variable(Tensor::zeros({2, 3, 5}))), Error);
  EXPECT_THROW(m.run(Variable(Tensor::zeros({2, 3, 4})), Variable(Tensor::zeros({1, 3, 6}))),
               Error);
}

}  // namespace
}  // namespace tide
