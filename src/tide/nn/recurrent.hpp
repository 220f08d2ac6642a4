// Recurrent layers with torch.nn.RNN / GRU / LSTM semantics (batch_first): multi-layer,
// optional initial state, PyTorch's gate order (LSTM i, f, g, o; GRU r, z, n) and parameter
// names (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ...), so PyTorch weights load
// unchanged.
//
// f32 LSTM and GRU layers run as one oneDNN primitive over the whole sequence (ops_rnn.hpp).
// Otherwise (vanilla RNN, f64, or `fused` off) each time step is built from autograd ops
// (linear, sigmoid, tanh, mul), with the input projections of all steps computed by one
// GEMM per layer; that path is also the reference the fused one is tested against.
#pragma once

#include <array>

#include "tide/core/rng.hpp"
#include "tide/nn/module.hpp"

namespace tide {

enum class RecurrentKind { rnn_tanh, rnn_relu, gru, lstm };

struct RecurrentOptions {
  RecurrentKind kind = RecurrentKind::lstm;
  int64_t input_size = 1;
  int64_t hidden_size = 1;
  int64_t num_layers = 1;
  bool bias = true;
  bool fused = true;  // use the oneDNN primitive where there is one
  // What forward() returns: the output sequence (B, T, H), or the last layer's final hidden
  // state (B, H), which a classifier of whole sequences reads.
  bool last_state = false;
};

struct RecurrentOutput {
  Variable output;  // (B, T, H): the last layer's hidden state at every step
  Variable h_n;     // (L, B, H): every layer's last hidden state
  Variable c_n;     // (L, B, H): every layer's last cell state (LSTM only)
};

class Recurrent : public Module {
 public:
  // Weights U(-1/sqrt(H), 1/sqrt(H)), as PyTorch.
  Recurrent(RecurrentOptions options, RngStream& rng);
  // x (B, T, input_size); h0 and (LSTM) c0 (L, B, H), or undefined for zeros.
  RecurrentOutput run(const Variable& x, const Variable& h0 = {}, const Variable& c0 = {});
  // From zero initial state: the output sequence (B, T, H), or with options.last_state the
  // last layer's final hidden state (B, H).
  Variable forward(const Variable& x) override;
  std::string describe() const override;
  const RecurrentOptions& options() const { return options_; }

 private:
  int64_t gates() const;
  RecurrentOptions options_;
  std::vector<std::array<Variable, 4>> weights_;  // per layer: w_ih, w_hh, b_ih, b_hh
};

}  // namespace tide
