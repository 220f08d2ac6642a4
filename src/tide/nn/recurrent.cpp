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

// Layer l's slice (B, H) of a state (L, B, H).
Variable layer_state(const Variable& s, int64_t l) {
  return reshape(slice(s, 0, l, l + 1), {s.dim(1), s.dim(2)});
}

}  // namespace

Recurrent::Recurrent(RecurrentOptions o, RngStream& rng) : options_(o) {
  TIDE_CHECK(o.input_size > 0 && o.hidden_size > 0 && o.num_layers > 0,
             "{}: input size {}, hidden size {} and layers {} must be positive", kind_name(o.kind),
             o.input_size, o.hidden_size, o.num_layers);
  const double bound = 1.0 / std::sqrt(static_cast<double>(o.hidden_size));
  const int64_t g = gates() * o.hidden_size;
  for (int64_t l = 0; l < o.num_layers; ++l) {
    const int64_t in = l == 0 ? o.input_size : o.hidden_size;
    std::array<Variable, 4> w;
    w[0] =
        register_parameter(fmt::format("weight_ih_l{}", l), uniform({g, in}, -bound, bound, rng));
    w[1] = register_parameter(fmt::format("weight_hh_l{}", l),
                              uniform({g, o.hidden_size}, -bound, bound, rng));
    if (o.bias) {
      w[2] = register_parameter(fmt::format("bias_ih_l{}", l), uniform({g}, -bound, bound, rng));
      w[3] = register_parameter(fmt::format("bias_hh_l{}", l), uniform({g}, -bound, bound, rng));
    }
    weights_.push_back(w);
  }
}

int64_t Recurrent::gates() const {
  switch (options_.kind) {
    case RecurrentKind::lstm:
      return 4;
    case RecurrentKind::gru:
      return 3;
    default:
      return 1;
  }
}

RecurrentOutput Recurrent::run(const Variable& x, const Variable& h0, const Variable& c0) {
  const RecurrentOptions& o = options_;
  TIDE_CHECK(x.shape().ndim() == 3 && x.shape()[2] == o.input_size,
             "{}: input must be (B, T, {}), got {}", kind_name(o.kind), o.input_size,
             x.value().str());
  const int64_t b = x.dim(0), t_len = x.dim(1), hs = o.hidden_size;
  const Shape state_shape{o.num_layers, b, hs};
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
    const auto& [w_ih, w_hh, b_ih, b_hh] = weights_[static_cast<size_t>(l)];
    Variable h = h0.defined() ? layer_state(h0, l) : zeros;
    Variable c = c0.defined() ? layer_state(c0, l) : zeros;
    if (lstm && o.fused && x.dtype() == DType::f32) {
      const Variable packed = lstm_sequence(layer_in, h, c, w_ih, w_hh, b_ih, b_hh);
      layer_in = slice(packed, 1, 0, t_len);
      last_h.push_back(reshape(slice(packed, 1, t_len, t_len + 1), {b, hs}));
      last_c.push_back(reshape(slice(packed, 1, t_len + 1, t_len + 2), {b, hs}));
      continue;
    }
    if (!lstm && o.fused && x.dtype() == DType::f32) {
      const Variable packed = o.kind == RecurrentKind::gru
                                  ? gru_sequence(layer_in, h, w_ih, w_hh, b_ih, b_hh)
                                  : rnn_sequence(layer_in, h, w_ih, w_hh, b_ih, b_hh,
                                                 o.kind == RecurrentKind::rnn_relu);
      layer_in = slice(packed, 1, 0, t_len);
      last_h.push_back(reshape(slice(packed, 1, t_len, t_len + 1), {b, hs}));
      continue;
    }
    // The input projections of every step at once: (B, T, gates * H).
    const Variable projected = linear(layer_in, w_ih, b_ih);
    std::vector<Variable> hs_seq;
    for (int64_t t = 0; t < t_len; ++t) {
      const Variable xt = reshape(slice(projected, 1, t, t + 1), {b, gates() * hs});
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
    last_h.push_back(h);
    if (lstm) last_c.push_back(c);
    layer_in = stack(hs_seq, false);
  }
  out.output = layer_in;
  out.h_n = stack(last_h, true);
  if (lstm) out.c_n = stack(last_c, true);
  return out;
}

Variable Recurrent::forward(const Variable& x) {
  RecurrentOutput out = run(x);
  if (!options_.last_state) return out.output;
  const Variable& h = out.h_n;  // (L, B, H)
  const int64_t layers = h.dim(0);
  const Variable last = layers == 1 ? h : slice(h, 0, layers - 1, layers);
  return reshape(last, {h.dim(1), h.dim(2)});
}

std::string Recurrent::describe() const {
  return fmt::format("{}({}, {}, layers {}{}{})", kind_name(options_.kind), options_.input_size,
                     options_.hidden_size, options_.num_layers, options_.bias ? "" : ", bias=false",
                     options_.last_state ? ", last state" : "");
}

}  // namespace tide
