// Whole-sequence recurrent layers as single ops (oneDNN primitives, f32).
#pragma once

#include "tide/autograd/variable.hpp"

namespace tide {

// One LSTM layer: x (N, T, I), h0 and c0 (N, H), w_ih (4H, I), w_hh (4H, H), b_ih and b_hh
// (4H, or undefined) -> (N, T + 2, H): the outputs of the T steps, then the final hidden
// state, then the final cell state. Gate order and formulas as torch.nn.LSTM.
Variable lstm_sequence(const Variable& x, const Variable& h0, const Variable& c0,
                       const Variable& w_ih, const Variable& w_hh, const Variable& b_ih,
                       const Variable& b_hh);

// One GRU layer: x (N, T, I), h0 (N, H), w_ih (3H, I), w_hh (3H, H), b_ih and b_hh (3H, or
// undefined) -> (N, T + 1, H): the outputs of the T steps, then the final hidden state.
// Gate order and formulas as torch.nn.GRU.
Variable gru_sequence(const Variable& x, const Variable& h0, const Variable& w_ih,
                      const Variable& w_hh, const Variable& b_ih, const Variable& b_hh);

// One vanilla RNN layer, h' = tanh (or ReLU when relu) of (W_ih x + b_ih + W_hh h + b_hh):
// x (N, T, I), h0 (N, H), w_ih (H, I), w_hh (H, H), b_ih and b_hh (H, or undefined) ->
// (N, T + 1, H) as gru_sequence. As torch.nn.RNN.
Variable rnn_sequence(const Variable& x, const Variable& h0, const Variable& w_ih,
                      const Variable& w_hh, const Variable& b_ih, const Variable& b_hh, bool relu);

}  // namespace tide
