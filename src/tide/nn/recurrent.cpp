#include "tide/nn/recurrent.hpp"

#include <cmath>

#include "tide/autograd/ops.hpp"
#include "tide/tensor/random.hpp"

namespace tide {
namespace {

const char* kind_name(RecurrentKind k) {
  switch (k) {
    case RecurrentKind::rnn_tanh:
      return "RNN(tanh)";
    case RecurrentKind::rnn_relu:
      return "RNN(relu)";
    case RecurrentKind::gru:
      return "GRU";
    case RecurrentKind::lstm:
      return "LSTM";
  }
  return "?";
}

// (B, H) pieces to (B, T, H), or to (L, B, H) when `leading`.
Variable stack(const std::vector<Variable>& xs, bool leading) {
  std::vector<Variable> parts;
  for (const Variable& x : xs)
    parts.push_back(
        reshape(x, leading ? Shape{1, x.dim(0), x.dim(1)} : Shape{x.dim(0), 1, x.dim(1)}));
  return concat(parts, leading ? 0 : 1);
}

// Entry i's slice (B, H) of a state (D * L, B, H).
Variable layer_state(const Variable& s, int64_t i) {
  return reshape(slice(s, 0, i, i + 1), {s.dim(1), s.dim(2)});
}

int64_t gate_count(RecurrentKind k) {
  switch (k) {
    case RecurrentKind::lstm:
      return 4;
    case RecurrentKind::gru:
      return 3;
    default:
      return 1;
  }
}

// One direction of one layer: its outputs (B, T, H) and final states (B, H).
struct DirectionRun {
  Variable output, h, c;
};

DirectionRun run_direction(const RecurrentOptions& o, const Variable& x, Variable h, Variable c,
                           const std::array<Variable, 4>& weights) {
  const auto& [w_ih, w_hh, b_ih, b_hh] = weights;
  const int64_t b = x.dim(0), t_len = x.dim(1), hs = o.hidden_size;
  const bool lstm = o.kind == RecurrentKind::lstm;
  if (lstm && o.fused && x.dtype() == DType::f32) {
    const Variable packed = lstm_sequence(x, h, c, w_ih, w_hh, b_ih, b_hh);
    return {slice(packed, 1, 0, t_len), reshape(slice(packed, 1, t_len, t_len + 1), {b, hs}),
            reshape(slice(packed, 1, t_len + 1, t_len + 2), {b, hs})};
  }
  if (!lstm && o.fused && x.dtype() == DType::f32) {
    const Variable packed =
        o.kind == RecurrentKind::gru
            ? gru_sequence(x, h, w_ih, w_hh, b_ih, b_hh)
            : rnn_sequence(x, h, w_ih, w_hh, b_ih, b_hh, o.kind == RecurrentKind::rnn_relu);
    return {slice(packed, 1, 0, t_len), reshape(slice(packed, 1, t_len, t_len + 1), {b, hs}), {}};
  }
  // The input projections of every step at once: (B, T, gates * H).
  const int64_t width = gate_count(o.kind) * hs;
  const Variable projected = linear(x, w_ih, b_ih);
  std::vector<Variable> hs_seq;
  for (int64_t t = 0; t < t_len; ++t) {
    const Variable xt = reshape(slice(projected, 1, t, t + 1), {b, width});
    const Variable hh = linear(h, w_hh, b_hh);
    switch (o.kind) {
      case RecurrentKind::rnn_tanh:
        h = tide::tanh(xt + hh);
        break;
      case RecurrentKind::rnn_relu:
        h = relu(xt + hh);
        break;
      case RecurrentKind::lstm: {
        const auto g = split(xt + hh, {hs, hs, hs, hs}, 1);
        c = sigmoid(g[1]) * c + sigmoid(g[0]) * tide::tanh(g[2]);
        h = sigmoid(g[3]) * tide::tanh(c);
        break;
      }
      case RecurrentKind::gru: {
        const auto gx = split(xt, {hs, hs, hs}, 1), gh = split(hh, {hs, hs, hs}, 1);
        const Variable r = sigmoid(gx[0] + gh[0]), z = sigmoid(gx[1] + gh[1]);
        const Variable n = tide::tanh(gx[2] + r * gh[2]);
        h = n + z * (h - n);  // (1 - z) * n + z * h
        break;
      }
    }
    hs_seq.push_back(h);
  }
  return {stack(hs_seq, false), h, lstm ? c : Variable()};
}

}  // namespace

Recurrent::Recurrent(RecurrentOptions o, RngStream& rng) : options_(o), masks_(o.seed, o.id) {
  TIDE_CHECK(o.input_size > 0 && o.hidden_size > 0 && o.num_layers > 0,
             "{}: input size {}, hidden size {} and layers {} must be positive", kind_name(o.kind),
             o.input_size, o.hidden_size, o.num_layers);
  TIDE_CHECK(o.dropout >= 0 && o.dropout < 1, "{}: dropout {} must be in [0, 1)", kind_name(o.kind),
             o.dropout);
  const double bound = 1.0 / std::sqrt(static_cast<double>(o.hidden_size));
  const int64_t g = gate_count(o.kind) * o.hidden_size;
  // PyTorch's order: per layer, the forward direction's four tensors, then the reverse's.
  for (int64_t l = 0; l < o.num_layers; ++l) {
    const int64_t in = l == 0 ? o.input_size : directions() * o.hidden_size;
    for (int64_t d = 0; d < directions(); ++d) {
      const char* suffix = d == 0 ? "" : "_reverse";
      std::array<Variable, 4> w;
      w[0] = register_parameter(fmt::format("weight_ih_l{}{}", l, suffix),
                                uniform({g, in}, -bound, bound, rng));
      w[1] = register_parameter(fmt::format("weight_hh_l{}{}", l, suffix),
                                uniform({g, o.hidden_size}, -bound, bound, rng));
      if (o.bias) {
        w[2] = register_parameter(fmt::format("bias_ih_l{}{}", l, suffix),
                                  uniform({g}, -bound, bound, rng));
        w[3] = register_parameter(fmt::format("bias_hh_l{}{}", l, suffix),
                                  uniform({g}, -bound, bound, rng));
      }
      weights_.push_back(w);
    }
  }
}

RecurrentOutput Recurrent::run(const Variable& x, const Variable& h0, const Variable& c0) {
  const RecurrentOptions& o = options_;
  TIDE_CHECK(x.shape().ndim() == 3 && x.shape()[2] == o.input_size,
             "{}: input must be (B, T, {}), got {}", kind_name(o.kind), o.input_size,
             x.value().str());
  const int64_t b = x.dim(0), hs = o.hidden_size, dirs = directions();
  const Shape state_shape{dirs * o.num_layers, b, hs};
  for (const Variable* s : {&h0, &c0})
    if (s->defined())
      TIDE_CHECK(s->shape() == state_shape, "{}: initial state {} should be {}", kind_name(o.kind),
                 s->value().str(), state_shape.str());
  const bool lstm = o.kind == RecurrentKind::lstm;
  const Variable zeros(Tensor::zeros({b, hs}, x.dtype()));

  RecurrentOutput out;
  std::vector<Variable> last_h, last_c;
  Variable layer_in = x;
  for (int64_t l = 0; l < o.num_layers; ++l) {
    if (l > 0 && o.dropout > 0 && is_training()) {
      RngStream rng = masks_.next();
      layer_in = dropout(layer_in, o.dropout, rng);
    }
    std::vector<Variable> outputs;
    for (int64_t d = 0; d < dirs; ++d) {
      const int64_t i = l * dirs + d;
      const Variable h = h0.defined() ? layer_state(h0, i) : zeros;
      const Variable c = c0.defined() ? layer_state(c0, i) : zeros;
      // The reverse direction is the forward code on the time-reversed sequence; its outputs
      // are turned back so that step t of both directions lines up.
      const DirectionRun r = run_direction(o, d == 0 ? layer_in : flip(layer_in, 1), h, c,
                                           weights_[static_cast<size_t>(i)]);
      outputs.push_back(d == 0 ? r.output : flip(r.output, 1));
      last_h.push_back(r.h);
      if (lstm) last_c.push_back(r.c);
    }
    layer_in = dirs == 1 ? outputs[0] : concat(outputs, 2);
  }
  out.output = layer_in;
  out.h_n = stack(last_h, true);
  if (lstm) out.c_n = stack(last_c, true);
  return out;
}

Variable Recurrent::forward(const Variable& x) {
  RecurrentOutput out = run(x);
  if (!options_.last_state) return out.output;
  const Variable& h = out.h_n;  // (D * L, B, H)
  const int64_t n = h.dim(0), dirs = directions();
  if (n == 1) return reshape(h, {h.dim(1), h.dim(2)});
  // The last layer's final states, forward then reverse: (B, D * H).
  std::vector<Variable> parts;
  for (int64_t d = 0; d < dirs; ++d) parts.push_back(layer_state(h, n - dirs + d));
  return dirs == 1 ? parts[0] : concat(parts, 1);
}

void Recurrent::begin_step(int64_t step) {
  masks_.begin_step(step);
  Module::begin_step(step);
}

std::string Recurrent::describe() const {
  const RecurrentOptions& o = options_;
  return fmt::format("{}({}, {}, layers {}{}{}{}{})", kind_name(o.kind), o.input_size,
                     o.hidden_size, o.num_layers, o.bias ? "" : ", bias=false",
                     o.bidirectional ? ", bidirectional" : "",
                     o.dropout > 0 ? fmt::format(", dropout {}", o.dropout) : "",
                     o.last_state ? ", last state" : "");
}

}  // namespace tide
