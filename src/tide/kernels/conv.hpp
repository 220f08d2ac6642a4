// 2-D convolution (cross-correlation, as torch.nn.Conv2d), NCHW tensors.
#pragma once

#include <cstdint>
#include <memory>

#include "tide/core/precision.hpp"
#include "tide/kernels/pool.hpp"

namespace tide {

struct ConvGeometry {
  int64_t n = 1, c_in = 1, h = 1, w = 1;  // input (N, C_in, H, W)
  int64_t c_out = 1, kh = 1, kw = 1;      // weight (C_out, C_in / groups, KH, KW)
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;
  Precision compute = Precision::f32;  // bf16: the products read bf16, accumulate f32
  // 0 when the dilated kernel does not fit (not the division's rounding of a negative span).
  int64_t out_h() const { return out_size(h, pad_h, dilation_h * (kh - 1) + 1, stride_h); }
  int64_t out_w() const { return out_size(w, pad_w, dilation_w * (kw - 1) + 1, stride_w); }
  static int64_t out_size(int64_t in, int64_t pad, int64_t extent, int64_t stride) {
    return in + 2 * pad < extent ? 0 : (in + 2 * pad - extent) / stride + 1;
  }
};

// y (N, C_out, OH, OW) = conv(x (N, C_in, H, W), w (C_out, C_in/groups, KH, KW)) + b (C_out)
// or no bias when b is null. oneDNN, with layouts of its choosing inside and NCHW outside.
void conv2d_forward(float* y, const float* x, const float* w, const float* b,
                    const ConvGeometry& g);
// Both backward passes at once: dx (or null), and dw with db (or null; dw null skips the
// weight pass). dy is brought to oneDNN's layout once for both.
void conv2d_backward(float* dx, float* dw, float* db, const float* dy, const float* x,
                     const float* w, const ConvGeometry& g);
// dx (N, C_in, H, W) = the input gradient for dy (N, C_out, OH, OW).
void conv2d_backward_data(float* dx, const float* dy, const float* w, const ConvGeometry& g);
// dw (C_out, C_in/groups, KH, KW) and db (C_out, or null) for dy, given the input x.
void conv2d_backward_weights(float* dw, float* db, const float* dy, const float* x,
                             const ConvGeometry& g);

// Convolution, ReLU and 2-D max pooling as one oneDNN pipeline (f32) that keeps the
// convolution's output in the blocked layout the convolution chooses: only x and the pooled
// y (N, C_out, PH, PW) are NCHW, which saves the reorders of the full-size activation and
// its gradient. The record keeps what backward reads. pg describes the pooling of the
// convolution's output (pg.n, pg.c, pg.h, pg.w = N, C_out, OH, OW).
class ConvBlockRecord {
 public:
  virtual ~ConvBlockRecord() = default;
};
std::shared_ptr<ConvBlockRecord> conv_relu_maxpool_forward(float* y, const float* x, const float* w,
                                                           const float* b, const ConvGeometry& g,
                                                           const PoolGeometry& pg);
// dx (or null), dw and db (or null) from dy, given the forward's record.
void conv_relu_maxpool_backward(float* dx, float* dw, float* db, const float* dy, const float* x,
                                const float* w, const ConvBlockRecord& record,
                                const ConvGeometry& g);

// The same three by plain loops (double accumulators), for checking and for f64.
template <class T>
void conv2d_forward_reference(T* y, const T* x, const T* w, const T* b, const ConvGeometry& g);
template <class T>
void conv2d_backward_data_reference(T* dx, const T* dy, const T* w, const ConvGeometry& g);
template <class T>
void conv2d_backward_weights_reference(T* dw, T* db, const T* dy, const T* x,
                                       const ConvGeometry& g);

}  // namespace tide
