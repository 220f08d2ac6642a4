// RNN, GRU and LSTM against PyTorch, one- and bidirectional: outputs, final states, and the
// gradients of the input, the initial states and every parameter (fixtures:
// write_recurrent_fixtures and write_bidirectional_fixtures in tests/fixtures/generate.py).
// Dropout between layers has no fixture: its tests compare runs of Tide with each other.
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

TensorMap load_fixture(const std::string& name) {
  return load_safetensors(std::string(TIDE_SOURCE_DIR) + "/tests/fixtures/modules/" + name +
                          ".safetensors");
}

Recurrent from_fixture(const TensorMap& fx, RecurrentKind kind, bool fused, bool bidirectional) {
  RngStream rng(0, RngPurpose::init);
  Recurrent m({.kind = kind,
               .input_size = 4,
               .hidden_size = 6,
               .num_layers = 2,
               .fused = fused,
               .bidirectional = bidirectional},
              rng);
  TensorMap params;
  for (const auto& [k, t] : fx)
    if (k.starts_with("param.")) params.emplace(k.substr(6), t);
  m.load_state_dict(params);
  return m;
}

// Both paths: the fused oneDNN primitive and the step-by-step composition. A fixture without
// h0 starts from zero state.
void check_against_pytorch(const std::string& name, RecurrentKind kind, bool fused,
                           bool bidirectional = false) {
  const TensorMap fx = load_fixture(name);
  Recurrent m = from_fixture(fx, kind, fused, bidirectional);
  const bool lstm = kind == RecurrentKind::lstm, given = fx.contains("h0");
  Variable x(fx.at("x").clone(), true);
  Variable h0 = given ? Variable(fx.at("h0").clone(), true) : Variable();
  Variable c0 = lstm && given ? Variable(fx.at("c0").clone(), true) : Variable();
  const RecurrentOutput out = m.run(x, h0, c0);
  expect_close(out.output.value(), fx.at("output"), name + " output", 2e-5);
  expect_close(out.h_n.value(), fx.at("h_n"), name + " h_n", 2e-5);
  Variable loss =
      sum(out.output * Variable(fx.at("grad_output"))) + sum(out.h_n * Variable(fx.at("grad_h_n")));
  if (lstm) {
    expect_close(out.c_n.value(), fx.at("c_n"), name + " c_n", 2e-5);
    loss = loss + sum(out.c_n * Variable(fx.at("grad_c_n")));
  }
  loss.backward();
  expect_close(x.grad(), fx.at("grad_x"), name + " grad x", 2e-5);
  if (given) expect_close(h0.grad(), fx.at("grad_h0"), name + " grad h0", 2e-5);
  if (lstm && given) expect_close(c0.grad(), fx.at("grad_c0"), name + " grad c0", 2e-5);
  size_t grads = 0;
  for (const auto& [pname, p] : m.named_parameters()) {
    expect_close(p.grad(), fx.at("grad." + pname), name + " grad " + pname, 2e-5);
    ++grads;
  }
  EXPECT_EQ(grads, bidirectional ? 16u : 8u);
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
    for (const bool bidirectional : {false, true}) {
      RngStream init(7, RngPurpose::init), data(7, RngPurpose::test);
      const RecurrentOptions o{.kind = kind,
                               .input_size = input,
                               .hidden_size = hidden,
                               .num_layers = layers,
                               .bidirectional = bidirectional};
      const int64_t dirs = bidirectional ? 2 : 1;
      Recurrent fused(o, init);
      RecurrentOptions step_options = o;
      step_options.fused = false;
      Recurrent step(step_options, init);
      step.load_state_dict(fused.state_dict());
      const Tensor x = uniform({batch, steps, input}, -1, 1, data);
      const Tensor h0 = uniform({dirs * layers, batch, hidden}, -1, 1, data);
      const Tensor c0 = uniform({dirs * layers, batch, hidden}, -1, 1, data);
      const Tensor dy = uniform({batch, steps, dirs * hidden}, -1, 1, data);
      const Tensor dh = uniform({dirs * layers, batch, hidden}, -1, 1, data);
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
                     "result " + std::to_string(i) + " at hidden " + std::to_string(hidden) +
                         (bidirectional ? ", bidirectional" : ""),
                     1e-4);
    }
  }
}

TEST_P(RecurrentTest, BidirectionalMatchesPyTorch) {
  const auto& [name, kind] = GetParam();
  if (kind == RecurrentKind::rnn_relu) GTEST_SKIP() << "no bidirectional fixture for rnn_relu";
  for (const bool fused : {true, false}) {
    SCOPED_TRACE(fused ? "fused" : "step by step");
    check_against_pytorch(name + "_bi", kind, fused, true);
    check_against_pytorch(name + "_bi_zero", kind, fused, true);
  }
}

// last_state of a bidirectional layer: the last layer's forward and reverse final hidden
// states side by side (B, 2H), PyTorch's torch.cat([h_n[-2], h_n[-1]], 1).
TEST_P(RecurrentTest, BidirectionalLastStateJoinsBothDirections) {
  const auto& [name, kind] = GetParam();
  if (kind == RecurrentKind::rnn_relu) GTEST_SKIP() << "no bidirectional fixture for rnn_relu";
  const TensorMap fx = load_fixture(name + "_bi_zero");
  RngStream rng(0, RngPurpose::init);
  Recurrent m({.kind = kind,
               .input_size = 4,
               .hidden_size = 6,
               .num_layers = 2,
               .last_state = true,
               .bidirectional = true},
              rng);
  TensorMap params;
  for (const auto& [k, t] : fx)
    if (k.starts_with("param.")) params.emplace(k.substr(6), t);
  m.load_state_dict(params);
  const Variable h_n(fx.at("h_n"));
  const Tensor expected =
      concat({reshape(slice(h_n, 0, 2, 3), {3, 6}), reshape(slice(h_n, 0, 3, 4), {3, 6})}, 1)
          .value();
  const Variable last = m(Variable(fx.at("x")));
  ASSERT_EQ(last.shape(), Shape({3, 12}));
  expect_close(last.value(), expected, "last state", 2e-5);
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
