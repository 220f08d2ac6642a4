// ONNX's LSTM, GRU and RNN as Tide's recurrent layers.
#include <fmt/ranges.h>

#include "tide/autograd/ops.hpp"
#include "tide/nn/recurrent.hpp"
#include "tide/onnx/ops.hpp"

namespace tide {

const std::vector<int>& onnx_gates(RecurrentKind kind) {
  static const std::vector<int> lstm = {0, 2, 3, 1}, gru = {1, 0, 2}, rnn = {0};
  return kind == RecurrentKind::lstm ? lstm : kind == RecurrentKind::gru ? gru : rnn;
}

namespace {

int gates(RecurrentKind kind) {
  return static_cast<int>(onnx_gates(kind).size());
}

Variable reorder_gates(const Variable& w, RecurrentKind kind, int64_t hidden) {
  if (kind == RecurrentKind::rnn_tanh || kind == RecurrentKind::rnn_relu) return w;
  const std::vector<Variable> blocks = split(w, std::vector<int64_t>(gates(kind), hidden), 0);
  std::vector<Variable> ordered;
  for (const int i : onnx_gates(kind)) ordered.push_back(blocks[i]);
  return concat(ordered, 0);
}

// Direction d's slice of a (D, ...) tensor, without the leading dimension.
Variable direction(const Variable& t, int d) {
  std::vector<int64_t> dims = t.shape().dims();
  dims.erase(dims.begin());
  return reshape(slice(t, 0, d, d + 1), Shape(dims));
}

// ONNX's GRU with linear_before_reset = 0: the candidate is tanh(W_n x + b_Wn + R_n (r * h) +
// b_Rn) where PyTorch's is tanh(W_n x + b_Wn + r * (R_n h + b_Rn)). Gates in PyTorch's order
// (r, z, n); x (N, T, I), h0 (N, H) -> (N, T + 1, H) as gru_sequence, from autograd ops one
// step at a time.
Variable gru_reset_first(const Variable& x, const Variable& h0, const Variable& w_ih,
                         const Variable& w_hh, const Variable& b_ih, const Variable& b_hh) {
  const int64_t n = x.shape()[0], t = x.shape()[1], hidden = h0.shape()[1];
  const Variable gx = linear(x, w_ih, b_ih);  // (N, T, 3H)
  auto rows = [](const Variable& v, int64_t from, int64_t to) {
    return v.defined() ? slice(v, 0, from, to) : Variable();
  };
  const Variable w_rz = rows(w_hh, 0, 2 * hidden), w_n = rows(w_hh, 2 * hidden, 3 * hidden);
  const Variable b_rz = rows(b_hh, 0, 2 * hidden), b_n = rows(b_hh, 2 * hidden, 3 * hidden);
  Variable h = h0;
  std::vector<Variable> steps;
  for (int64_t k = 0; k < t; ++k) {
    const Variable g = reshape(slice(gx, 1, k, k + 1), Shape({n, 3 * hidden}));
    const Variable rz = sigmoid(slice(g, 1, 0, 2 * hidden) + linear(h, w_rz, b_rz));
    const Variable r = slice(rz, 1, 0, hidden), z = slice(rz, 1, hidden, 2 * hidden);
    const Variable cand = tanh(slice(g, 1, 2 * hidden, 3 * hidden) + linear(r * h, w_n, b_n));
    h = cand + z * (h - cand);
    steps.push_back(reshape(h, Shape({n, 1, hidden})));
  }
  steps.push_back(reshape(h, Shape({n, 1, hidden})));
  return concat(steps, 1);
}

// A recurrent node's attributes, read once.
struct RecurrentNode {
  RecurrentKind kind;
  int64_t hidden = 0;
  int directions = 1;
  bool reverse_only = false;  // direction = "reverse"
  int64_t layout = 0;         // 0: (T, N, ...); 1: (N, T, ...)
  bool reset_first = false;   // a GRU with linear_before_reset = 0
};

RecurrentNode read_recurrent(const NodeContext& c, RecurrentKind kind) {
  const bool lstm = kind == RecurrentKind::lstm;
  c.inputs_between(3, lstm ? 8 : 6);
  if (lstm && c.has_input(7)) c.fail("input P (peepholes): Tide's LSTM has no peepholes");
  RecurrentNode r{.kind = kind, .hidden = c.integer("hidden_size")};
  if (r.hidden <= 0 || r.hidden > (int64_t{1} << 20))
    c.fail("attribute hidden_size must be from 1 to 2^20, got {}", r.hidden);
  const std::string dir = c.text("direction", "forward");
  if (dir != "forward" && dir != "reverse" && dir != "bidirectional")
    c.fail("attribute direction = '{}' is not forward, reverse or bidirectional", dir);
  r.directions = dir == "bidirectional" ? 2 : 1;
  r.reverse_only = dir == "reverse";
  if (c.has_attribute("clip")) c.fail("attribute clip: Tide's recurrent layers do not clip");
  if (c.has_attribute("activation_alpha") || c.has_attribute("activation_beta"))
    c.fail("attributes activation_alpha and activation_beta are not supported");
  if (lstm) c.only("input_forget", c.integer("input_forget", 0), 0, "Tide's LSTM is PyTorch's");
  r.layout = c.integer("layout", 0);
  if (r.layout != 0 && r.layout != 1) c.fail("attribute layout must be 0 or 1, got {}", r.layout);
  // linear_before_reset = 1 is PyTorch's GRU, one oneDNN primitive; ONNX's default 0 resets
  // the state before its product, which runs step by step (gru_reset_first).
  r.reset_first = kind == RecurrentKind::gru && c.integer("linear_before_reset", 0) == 0;
  std::vector<std::string> expected;
  for (int d = 0; d < r.directions; ++d) {
    if (lstm)
      expected.insert(expected.end(), {"Sigmoid", "Tanh", "Tanh"});
    else if (kind == RecurrentKind::gru)
      expected.insert(expected.end(), {"Sigmoid", "Tanh"});
    else
      expected.push_back("Tanh");
  }
  if (c.has_attribute("activations")) {
    const std::vector<std::string> given = c.texts("activations");
    if (kind == RecurrentKind::rnn_tanh && given == std::vector<std::string>(r.directions, "Relu"))
      r.kind = RecurrentKind::rnn_relu;
    else if (given != expected)
      c.fail("attribute activations = [{}]: Tide runs [{}]{}", fmt::join(given, ", "),
             fmt::join(expected, ", "), kind == RecurrentKind::rnn_tanh ? " or all Relu" : "");
  }
  return r;
}

bool given(const std::vector<Value>& in, size_t i) {
  return in.size() > i && (in[i].var.defined() || in[i].is_int());
}

// One direction d of the node over xs (N, T, I): Tide's layer -> (N, T + 1 or 2, H), the
// outputs of the T steps, then the final hidden (and cell) state.
Variable run_direction(const RecurrentNode& node, const std::vector<Value>& in, const Variable& xs,
                       int d) {
  const int64_t n = xs.shape()[0], hidden = node.hidden, g = gates(node.kind);
  const RecurrentKind kind = node.kind;
  const Variable w_ih = reorder_gates(direction(floats(in[1], 1), d), kind, hidden);
  const Variable w_hh = reorder_gates(direction(floats(in[2], 2), d), kind, hidden);
  Variable b_ih, b_hh;
  if (given(in, 3)) {
    const Variable b = direction(floats(in[3], 3), d);
    TIDE_CHECK(b.shape() == Shape({2 * g * hidden}), "B must be [{}, {}], got {}", node.directions,
               2 * g * hidden, floats(in[3], 3).shape().str());
    b_ih = reorder_gates(slice(b, 0, 0, g * hidden), kind, hidden);
    b_hh = reorder_gates(slice(b, 0, g * hidden, 2 * g * hidden), kind, hidden);
  }
  auto state = [&](size_t i) {
    if (!given(in, i)) return Variable(Tensor::zeros(Shape({n, hidden}), xs.dtype()));
    const Variable& s = floats(in[i], static_cast<int>(i));
    TIDE_CHECK(s.shape().ndim() == 3, "an initial state must be of rank 3, got {}",
               s.shape().str());
    const Variable v = node.layout == 0 ? direction(s, d) : direction(transpose(s, 0, 1), d);
    TIDE_CHECK(v.shape() == Shape({n, hidden}), "an initial state must be [{}, {}, {}], got {}",
               node.directions, n, hidden, s.shape().str());
    return v;
  };
  switch (kind) {
    case RecurrentKind::lstm:
      return lstm_sequence(xs, state(5), state(6), w_ih, w_hh, b_ih, b_hh);
    case RecurrentKind::gru:
      return node.reset_first ? gru_reset_first(xs, state(5), w_ih, w_hh, b_ih, b_hh)
                              : gru_sequence(xs, state(5), w_ih, w_hh, b_ih, b_hh);
    default:
      return rnn_sequence(xs, state(5), w_ih, w_hh, b_ih, b_hh, kind == RecurrentKind::rnn_relu);
  }
}

// The node's outputs Y, Y_h (and Y_c) in ONNX's layouts.
std::vector<Value> run_recurrent(const RecurrentNode& node, const std::vector<Value>& in) {
  const Variable& x = floats(in[0], 0);
  TIDE_CHECK(x.shape().ndim() == 3, "the input must be a sequence of rank 3, got {}",
             x.shape().str());
  const Variable xs = node.layout == 0 ? transpose(x, 0, 1) : x;  // (N, T, I)
  const int64_t n = xs.shape()[0], t = xs.shape()[1], input = xs.shape()[2];
  const int64_t hidden = node.hidden, g = gates(node.kind);
  const Variable &w = floats(in[1], 1), &r = floats(in[2], 2);
  TIDE_CHECK(w.shape() == Shape({node.directions, g * hidden, input}),
             "W must be [{}, {}, {}], got {}", node.directions, g * hidden, input, w.shape().str());
  TIDE_CHECK(r.shape() == Shape({node.directions, g * hidden, hidden}),
             "R must be [{}, {}, {}], got {}", node.directions, g * hidden, hidden,
             r.shape().str());
  if (given(in, 4))
    for (const int64_t len : int_list(ints(in[4], 4, "sequence_lens")))
      TIDE_CHECK(len == t, "sequence_lens holds {}; Tide runs whole sequences of {} steps", len, t);
  const bool lstm = node.kind == RecurrentKind::lstm;
  const bool batch_first = node.layout == 1;
  std::vector<Variable> ys, hs, cs;
  for (int d = 0; d < node.directions; ++d) {
    const bool reverse = node.reverse_only || d == 1;  // the reverse direction runs on the flip
    const Variable out = run_direction(node, in, reverse ? flip(xs, 1) : xs, d);
    Variable y = slice(out, 1, 0, t);
    if (reverse) y = flip(y, 1);
    ys.push_back(batch_first ? reshape(y, Shape({n, t, 1, hidden}))
                             : reshape(transpose(y, 0, 1), Shape({t, 1, n, hidden})));
    auto last = [&](int64_t k) {
      return reshape(slice(out, 1, k, k + 1),
                     batch_first ? Shape({n, 1, hidden}) : Shape({1, n, hidden}));
    };
    hs.push_back(last(t));
    if (lstm) cs.push_back(last(t + 1));
  }
  auto join = [](const std::vector<Variable>& v, int axis) {
    return v.size() == 1 ? v[0] : concat(v, axis);
  };
  const int state_axis = batch_first ? 1 : 0;
  std::vector<Value> outs{float_value(join(ys, batch_first ? 2 : 1)),
                          float_value(join(hs, state_axis))};
  if (lstm) outs.push_back(float_value(join(cs, state_axis)));
  return outs;
}

NodeFn build_recurrent(const NodeContext& c, RecurrentKind kind) {
  const RecurrentNode node = read_recurrent(c, kind);
  return [node](const std::vector<Value>& in, RunState&) { return run_recurrent(node, in); };
}

}  // namespace

std::vector<OpKind> recurrent_ops() {
  const std::vector<std::string_view> common = {
      "activation_alpha", "activation_beta", "activations", "clip",
      "direction",        "hidden_size",     "layout"};
  auto with = [&](std::string_view more) {
    std::vector<std::string_view> a = common;
    a.push_back(more);
    return a;
  };
  return {
      op_kind(
          "LSTM", 7, with("input_forget"),
          [](const NodeContext& c) { return build_recurrent(c, RecurrentKind::lstm); }, {4}, 3),
      op_kind(
          "GRU", 7, with("linear_before_reset"),
          [](const NodeContext& c) { return build_recurrent(c, RecurrentKind::gru); }, {4}, 2),
      op_kind(
          "RNN", 7, common,
          [](const NodeContext& c) { return build_recurrent(c, RecurrentKind::rnn_tanh); }, {4}, 2),
  };
}

}  // namespace tide
