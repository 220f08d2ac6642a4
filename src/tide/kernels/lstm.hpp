// One LSTM layer over a whole sequence through oneDNN's LSTM primitive, batch-first, with
// PyTorch's gate order (i, f, g, o) and weight layout, forward and backward.
#pragma once

#include <cstdint>
#include <memory>

namespace tide {

struct LstmGeometry {
  int64_t batch = 1, steps = 1, input = 1, hidden = 1;
};

// What the forward pass leaves for the backward pass (oneDNN's workspace).
class LstmWorkspace {
 public:
  virtual ~LstmWorkspace() = default;
};

// y (N, T, H), h_t and c_t (N, H) from x (N, T, I), h0 and c0 (N, H), w_ih (4H, I),
// w_hh (4H, H) and bias (4H) = b_ih + b_hh.
std::shared_ptr<LstmWorkspace> lstm_forward(float* y, float* h_t, float* c_t, const float* x,
                                            const float* h0, const float* c0, const float* w_ih,
                                            const float* w_hh, const float* bias,
                                            const LstmGeometry& g);

// Gradients dx (N, T, I), dh0, dc0 (N, H), dw_ih (4H, I), dw_hh (4H, H), dbias (4H), all
// overwritten, from dy (N, T, H), dh_t and dc_t (N, H) and the forward pass's inputs,
// outputs and workspace.
void lstm_backward(float* dx, float* dh0, float* dc0, float* dw_ih, float* dw_hh, float* dbias,
                   const float* dy, const float* dh_t, const float* dc_t, const float* x,
                   const float* h0, const float* c0, const float* w_ih, const float* w_hh,
                   const float* bias, const float* y, const float* h_t, const float* c_t,
                   const LstmWorkspace& workspace, const LstmGeometry& g);

}  // namespace tide
