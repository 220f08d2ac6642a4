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

// PyTorch's parameter names, shapes and order for a bidirectional layer: layer 1 reads both
// directions' outputs (2H).
TEST(Recurrent, BidirectionalParametersAsPyTorch) {
  RngStream rng(0, RngPurpose::init);
  Recurrent m({.kind = RecurrentKind::lstm,
               .input_size = 4,
               .hidden_size = 6,
               .num_layers = 2,
               .bidirectional = true},
              rng);
  std::vector<std::pair<std::string, Shape>> got;
  for (const auto& [name, p] : m.named_parameters()) got.emplace_back(name, p.shape());
  std::vector<std::pair<std::string, Shape>> expected;
  for (const std::string l : {"0", "1"})
    for (const std::string d : {"", "_reverse"}) {
      expected.emplace_back("weight_ih_l" + l + d, Shape{24, l == "0" ? 4 : 12});
      expected.emplace_back("weight_hh_l" + l + d, Shape{24, 6});
      expected.emplace_back("bias_ih_l" + l + d, Shape{24});
      expected.emplace_back("bias_hh_l" + l + d, Shape{24});
    }
  EXPECT_EQ(got, expected);
}

// Dropout between layers: a 2-layer bidirectional LSTM with dropout p and seed/id a model
// of 2 layers run one at a time; train/eval and step behaviour as PyTorch's (no fixture: the
// mask is Tide's own).
struct DropoutCase {
  RecurrentOptions options(double p) const {
    return {.kind = RecurrentKind::lstm,
            .input_size = 4,
            .hidden_size = 5,
            .num_layers = 2,
            .bidirectional = true,
            .dropout = p,
            .seed = 17,
            .id = 3};
  }
  Tensor x = [] {
    RngStream data(3, RngPurpose::test);
    return uniform({2, 6, 4}, -1, 1, data);
  }();
  // The output and the input's gradient of a model with dropout p and the weights of `from`.
  std::pair<Tensor, Tensor> run(double p, bool training, int64_t step, const Module& from) const {
    RngStream rng(0, RngPurpose::init);
    Recurrent m(options(p), rng);
    m.load_state_dict(from.state_dict());
    m.train(training);
    m.begin_step(step);
    Variable xv(x.clone(), true);
    const Variable y = m(xv);
    sum(y * y).backward();
    return {y.value(), xv.grad()};
  }
};

bool same(const Tensor& a, const Tensor& b) {
  return a.to_vector() == b.to_vector();
}

TEST(Recurrent, DropoutOnlyInTrainingAndReproducible) {
  const DropoutCase c;
  RngStream rng(1, RngPurpose::init);
  const Recurrent weights(c.options(0), rng);
  const auto plain = c.run(0, true, 0, weights);
  // Evaluation ignores dropout; p = 0 is no dropout in training too.
  const auto eval = c.run(0.5, false, 0, weights), zero = c.run(0, true, 0, weights);
  EXPECT_TRUE(same(eval.first, plain.first) && same(eval.second, plain.second));
  EXPECT_TRUE(same(zero.first, plain.first) && same(zero.second, plain.second));
  // Training with p > 0 changes the result, the same way for the same seed, id and step.
  const auto a = c.run(0.5, true, 0, weights), b = c.run(0.5, true, 0, weights);
  EXPECT_FALSE(same(a.first, plain.first));
  EXPECT_TRUE(same(a.first, b.first) && same(a.second, b.second));
  EXPECT_FALSE(same(c.run(0.5, true, 1, weights).first, a.first)) << "step 1 draws a new mask";
}

// The mask falls on layer 0's output (both directions) only: the same as running layer 0,
// dropout(p, RngStream(seed, dropout, {id, step, 0})), then layer 1, values and gradients.
TEST(Recurrent, DropoutFallsBetweenLayers) {
  const DropoutCase c;
  RngStream rng(2, RngPurpose::init);
  Recurrent full(c.options(0.4), rng);
  full.begin_step(5);
  RecurrentOptions first = c.options(0), second = c.options(0);
  first.num_layers = second.num_layers = 1;
  second.input_size = 10;
  Recurrent layer0(first, rng), layer1(second, rng);
  TensorMap w0, w1;
  for (const auto& [name, t] : full.state_dict()) {
    const std::string rest = name.substr(name.find("_l") + 3);  // "" or "_reverse"
    const std::string base = name.substr(0, name.find("_l")) + "_l0" + rest;
    (name.find("_l0") != std::string::npos ? w0 : w1).emplace(base, t);
  }
  layer0.load_state_dict(w0);
  layer1.load_state_dict(w1);

  Variable x1(c.x.clone(), true), x2(c.x.clone(), true);
  const Variable y1 = full(x1);
  RngStream mask(17, RngPurpose::dropout, {3, 5, 0});
  const Variable y2 = layer1(dropout(layer0(x2), 0.4, mask));
  expect_close(y1.value(), y2.value(), "output", 1e-6);
  sum(y1 * y1).backward();
  sum(y2 * y2).backward();
  expect_close(x1.grad(), x2.grad(), "grad x", 1e-6);
  for (const auto& [name, p] : full.named_parameters()) {
    const std::string rest = name.substr(name.find("_l") + 3);
    const std::string base = name.substr(0, name.find("_l")) + "_l0" + rest;
    const Recurrent& part = name.find("_l0") != std::string::npos ? layer0 : layer1;
    for (const auto& [pname, q] : part.named_parameters())
      if (pname == base) expect_close(p.grad(), q.grad(), "grad " + name, 1e-6);
  }
}

TEST(Recurrent, RejectsDropoutOutOfRange) {
  RngStream rng(0, RngPurpose::init);
  EXPECT_THROW(Recurrent({.kind = RecurrentKind::gru, .dropout = 1.0}, rng), Error);
  EXPECT_THROW(Recurrent({.kind = RecurrentKind::gru, .dropout = -0.1}, rng), Error);
}

TEST(Recurrent, RejectsWrongInputAndState) {
  RngStream rng(0, RngPurpose::init);
  Recurrent m({.kind = RecurrentKind::gru, .input_size = 4, .hidden_size = 6}, rng);
  EXPECT_THROW(m(Variable(Tensor::zeros({2, 3, 5}))), Error);
  EXPECT_THROW(m.run(Variable(Tensor::zeros({2, 3, 4})), Variable(Tensor::zeros({1, 3, 6}))),
               Error);
}

}  // namespace
}  // namespace tide
