// Whole-sequence recurrent layers through oneDNN's RNN primitives, batch-first, with
// PyTorch's weight layout and gate order, forward and backward.
#pragma once

#include <cstdint>
#include <memory>

#include "tide/core/precision.hpp"

namespace tide {

struct RnnGeometry {
  int64_t batch = 1, steps = 1, input = 1, hidden = 1;
  // bf16 (LSTM and vanilla RNN): the products read bf16 sequences, states and weights and
  // accumulate f32; the LSTM's cell state and all gradients stay f32.
  Precision compute = Precision::f32;
};

// What a forward pass leaves for its backward pass (oneDNN's workspace and prepared weights).
class RnnWorkspace {
 public:
  virtual ~RnnWorkspace() = default;
};

// LSTM, gates (i, f, g, o): y (N, T, H), h_t and c_t (N, H) from x (N, T, I), h0 and c0
// (N, H), w_ih (4H, I), w_hh (4H, H) and bias (4H) = b_ih + b_hh.
std::shared_ptr<RnnWorkspace> lstm_forward(float* y, float* h_t, float* c_t, const float* x,
                                           const float* h0, const float* c0, const float* w_ih,
                                           const float* w_hh, const float* bias,
                                           const RnnGeometry& g);
// Overwrites dx (N, T, I), dh0, dc0 (N, H), dw_ih (4H, I), dw_hh (4H, H), dbias (4H) from
// dy (N, T, H), dh_t and dc_t (N, H) and the forward pass's inputs, outputs and workspace.
void lstm_backward(float* dx, float* dh0, float* dc0, float* dw_ih, float* dw_hh, float* dbias,
                   const float* dy, const float* dh_t, const float* dc_t, const float* x,
                   const float* h0, const float* c0, const float* w_ih, const float* w_hh,
                   const float* bias, const float* y, const float* h_t, const float* c_t,
                   const RnnWorkspace& workspace, const RnnGeometry& g);

// GRU, gates (r, z, n), through oneDNN's linear-before-reset GRU (PyTorch's formula):
// y (N, T, H) and h_t (N, H) from x (N, T, I), h0 (N, H), w_ih (3H, I), w_hh (3H, H),
// b_ih and b_hh (3H).
std::shared_ptr<RnnWorkspace> gru_forward(float* y, float* h_t, const float* x, const float* h0,
                                          const float* w_ih, const float* w_hh, const float* b_ih,
                                          const float* b_hh, const RnnGeometry& g);
// Overwrites dx, dh0, dw_ih, dw_hh, db_ih, db_hh from dy and dh_t.
void gru_backward(float* dx, float* dh0, float* dw_ih, float* dw_hh, float* db_ih, float* db_hh,
                  const float* dy, const float* dh_t, const float* x, const float* h0,
                  const float* y, const float* h_t, const RnnWorkspace& workspace,
                  const RnnGeometry& g);

// Vanilla RNN, h' = act(W_ih x + b_ih + W_hh h + b_hh) with act ReLU (relu) or tanh:
// y (N, T, H) and h_t (N, H) from x (N, T, I), h0 (N, H), w_ih (H, I), w_hh (H, H), b_ih and
// b_hh (H).
std::shared_ptr<RnnWorkspace> vanilla_rnn_forward(float* y, float* h_t, const float* x,
                                                  const float* h0, const float* w_ih,
                                                  const float* w_hh, const float* b_ih,
                                                  const float* b_hh, bool relu,
                                                  const RnnGeometry& g);
// Overwrites dx, dh0, dw_ih, dw_hh, db_ih, db_hh from dy and dh_t.
void vanilla_rnn_backward(float* dx, float* dh0, float* dw_ih, float* dw_hh, float* db_ih,
                          float* db_hh, const float* dy, const float* dh_t, const float* x,
                          const float* h0, const float* w_ih, const float* w_hh, const float* y,
                          const float* h_t, const RnnWorkspace& workspace, bool relu,
                          const RnnGeometry& g);

}  // namespace tide
