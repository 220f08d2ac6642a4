// Recurrent layers with torch.nn.RNN / GRU / LSTM semantics (batch_first): multi-layer,
// optionally bidirectional, optional initial state, dropout between layers, PyTorch's gate
// order (LSTM i, f, g, o; GRU r, z, n) and parameter names (weight_ih_l0, weight_hh_l0,
// bias_ih_l0, bias_hh_l0, then weight_ih_l0_reverse, ... when bidirectional), so PyTorch
// weights load unchanged.
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
  // What forward() returns: the output sequence (B, T, D * H), or the last layer's final
  // hidden state (B, D * H), which a classifier of whole sequences reads.
  bool last_state = false;
  // A second direction per layer reads the sequence from its end (D = 2 below): layer l > 0
  // then takes 2H inputs, and the last state is the forward and reverse ones side by side.
  bool bidirectional = false;
  // In training, dropout with this probability on every layer's output but the last's, as
  // PyTorch. The mask of the k-th such use in step s comes from RngStream(seed, dropout,
  // {id, s, k}); begin_step() sets s.
  double dropout = 0;
  uint64_t seed = 0;
  uint64_t id = 0;
};

// D is 2 for a bidirectional layer, else 1. States are ordered as PyTorch's: layer 0
// forward, layer 0 reverse, layer 1 forward, ...
struct RecurrentOutput {
  Variable output;  // (B, T, D * H): the last layer's hidden states at every step, forward first
  Variable h_n;     // (D * L, B, H): every layer's and direction's last hidden state
  Variable c_n;     // (D * L, B, H): every layer's and direction's last cell state (LSTM only)
};

class Recurrent : public Module {
 public:
  // Weights U(-1/sqrt(H), 1/sqrt(H)), as PyTorch.
  Recurrent(RecurrentOptions options, RngStream& rng);
  // x (B, T, input_size); h0 and (LSTM) c0 (D * L, B, H), or undefined for zeros.
  RecurrentOutput run(const Variable& x, const Variable& h0 = {}, const Variable& c0 = {});
  // From zero initial state: the output sequence (B, T, D * H), or with options.last_state
  // the last layer's final hidden state (B, D * H).
  Variable forward(const Variable& x) override;
  void begin_step(int64_t step) override;
  std::string describe() const override;
  const RecurrentOptions& options() const { return options_; }

 private:
  int64_t directions() const { return options_.bidirectional ? 2 : 1; }
  RecurrentOptions options_;
  // per layer and direction (layer * D + direction): w_ih, w_hh, b_ih, b_hh
  std::vector<std::array<Variable, 4>> weights_;
  DropoutStreams masks_;
};

}  // namespace tide
