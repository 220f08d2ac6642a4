// One GRU layer over a whole sequence through oneDNN's linear-before-reset GRU, which is
// PyTorch's formula; weights and biases in PyTorch's layout and gate order (r, z, n).
#pragma once

#include <cstdint>
#include <memory>

namespace tide {

struct GruGeometry {
  int64_t batch = 1, steps = 1, input = 1, hidden = 1;
};

class GruWorkspace {
 public:
  virtual ~GruWorkspace() = default;
};

// y (N, T, H) and h_t (N, H) from x (N, T, I), h0 (N, H), w_ih (3H, I), w_hh (3H, H),
// b_ih and b_hh (3H).
std::shared_ptr<GruWorkspace> gru_forward(float* y, float* h_t, const float* x, const float* h0,
                                          const float* w_ih, const float* w_hh, const float* b_ih,
                                          const float* b_hh, const GruGeometry& g);

// Overwrites dx (N, T, I), dh0 (N, H), dw_ih, dw_hh, db_ih, db_hh from dy (N, T, H) and
// dh_t (N, H), given the forward pass's inputs, outputs and workspace.
void gru_backward(float* dx, float* dh0, float* dw_ih, float* dw_hh, float* db_ih, float* db_hh,
                  const float* dy, const float* dh_t, const float* x, const float* h0,
                  const float* w_ih, const float* w_hh, const float* b_ih, const float* b_hh,
                  const float* y, const float* h_t, const GruWorkspace& workspace,
                  const GruGeometry& g);

}  // namespace tide
