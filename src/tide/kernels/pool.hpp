// 2-D pooling over NCHW tensors, as torch.nn.MaxPool2d / AvgPool2d / AdaptiveAvgPool2d,
// with PyTorch's ceil_mode, count_include_pad and (max pooling only) dilation.
#pragma once

#include <cstdint>

namespace tide {

// The output size along one axis, PyTorch's pooling_output_shape: the windows span
// dilation * (kernel - 1) + 1 elements; ceil mode keeps a last partial window as long as it
// starts inside the input or the left padding. 0 when no window fits (the division alone
// would round -1/2 up to 0).
inline int64_t pool_out_size(int64_t size, int64_t kernel, int64_t stride, int64_t pad,
                             int64_t dilation, bool ceil_mode) {
  const int64_t span = dilation * (kernel - 1) + 1;
  const int64_t room = size + 2 * pad - span + (ceil_mode ? stride - 1 : 0);
  if (room < 0) return 0;
  int64_t out = room / stride + 1;
  if (ceil_mode && (out - 1) * stride >= size + pad) --out;
  return out;
}

struct PoolGeometry {
  int64_t n = 1, c = 1, h = 1, w = 1;  // input (N, C, H, W)
  int64_t kh = 1, kw = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;  // max pooling only
  bool ceil_mode = false;
  // Average pooling: whether the padding counts in the divisor. As in PyTorch, only the
  // padding given counts, never the part of a ceil-mode window past it.
  bool count_include_pad = true;
  int64_t out_h() const { return pool_out_size(h, kh, stride_h, pad_h, dilation_h, ceil_mode); }
  int64_t out_w() const { return pool_out_size(w, kw, stride_w, pad_w, dilation_w, ceil_mode); }
  // The bottom and right padding that makes the last window fit, at least the padding given
  // (ceil mode needs more): what oneDNN is told.
  int64_t pad_bottom() const { return end_pad(h, kh, stride_h, pad_h, dilation_h, out_h()); }
  int64_t pad_right() const { return end_pad(w, kw, stride_w, pad_w, dilation_w, out_w()); }
  // Whether a (dilated) window has every tap in the padding, as 1 row with kernel 2, padding 1
  // and dilation 2 has: PyTorch's maximum there is -inf.
  bool has_window_of_padding_only() const {
    return axis_has_window_of_padding_only(h, kh, stride_h, pad_h, dilation_h, out_h()) ||
           axis_has_window_of_padding_only(w, kw, stride_w, pad_w, dilation_w, out_w());
  }

 private:
  static bool axis_has_window_of_padding_only(int64_t size, int64_t k, int64_t stride, int64_t pad,
                                              int64_t dilation, int64_t out) {
    if (dilation == 1) return false;  // a window of adjacent taps always reaches the input
    for (int64_t o = 0; o < out; ++o) {
      bool inside = false;
      for (int64_t i = 0; i < k && !inside; ++i) {
        const int64_t at = o * stride - pad + i * dilation;
        inside = at >= 0 && at < size;
      }
      if (!inside) return true;
    }
    return false;
  }
  static int64_t end_pad(int64_t size, int64_t k, int64_t stride, int64_t pad, int64_t dilation,
                         int64_t out) {
    const int64_t need = (out - 1) * stride + dilation * (k - 1) + 1 - size - pad;
    return need > pad ? need : pad;
  }
};

// Max pooling keeps, for its backward pass, where each maximum came from: its record, of
// max_pool2d_record_bytes<T>(g) bytes (8-byte aligned). For float it is oneDNN's workspace;
// for double the argmax of each window within its input plane (iy * W + ix, int64).
template <class T>
int64_t max_pool2d_record_bytes(const PoolGeometry& g);

// float runs oneDNN's pooling primitives (built once per shape and kept); double runs the
// reference loops below, which the tests hold oneDNN against.
//
// y (N, C, OH, OW) = the maximum of each window of x; padding never wins.
void max_pool2d(float* y, void* record, const float* x, const PoolGeometry& g);
void max_pool2d(double* y, void* record, const double* x, const PoolGeometry& g);
// dx (N, C, H, W) = dy sent back to where each maximum came from.
void max_pool2d_backward(float* dx, const float* dy, const void* record, const PoolGeometry& g);
void max_pool2d_backward(double* dx, const double* dy, const void* record, const PoolGeometry& g);

// y (N, C, OH, OW) = the mean of each window: with count_include_pad the sum over the window
// (clipped to the input and its padding) over its size, padding counted as zeros; without,
// over the number of input elements in it. float runs oneDNN except for ceil-mode windows
// past the padding with count_include_pad, whose divisor oneDNN cannot express.
void avg_pool2d(float* y, const float* x, const PoolGeometry& g);
void avg_pool2d(double* y, const double* x, const PoolGeometry& g);
void avg_pool2d_backward(float* dx, const float* dy, const PoolGeometry& g);
void avg_pool2d_backward(double* dx, const double* dy, const PoolGeometry& g);

// y (N, C, OH, OW) = the mean over PyTorch's adaptive bins: rows floor(i*H/OH) up to
// ceil((i+1)*H/OH), and likewise for columns. OH = OW = 1 is global average pooling. When
// OH divides H and OW divides W the bins are a plain average pool, which float runs through
// oneDNN; other sizes run the reference loops.
template <class T>
void adaptive_avg_pool2d(T* y, const T* x, int64_t n, int64_t c, int64_t h, int64_t w,
                         int64_t out_h, int64_t out_w);
template <class T>
void adaptive_avg_pool2d_backward(T* dx, const T* dy, int64_t n, int64_t c, int64_t h, int64_t w,
                                  int64_t out_h, int64_t out_w);

// The reference loops (our own OpenMP over (N, C) planes), for any T. max pooling's argmax
// is the double record above; NaN propagates as in PyTorch.
template <class T>
void max_pool2d_reference(T* y, int64_t* argmax, const T* x, const PoolGeometry& g);
template <class T>
void max_pool2d_backward_reference(T* dx, const T* dy, const int64_t* argmax,
                                   const PoolGeometry& g);
template <class T>
void avg_pool2d_reference(T* y, const T* x, const PoolGeometry& g);
template <class T>
void avg_pool2d_backward_reference(T* dx, const T* dy, const PoolGeometry& g);
template <class T>
void adaptive_avg_pool2d_reference(T* y, const T* x, int64_t n, int64_t c, int64_t h, int64_t w,
                                   int64_t out_h, int64_t out_w);
template <class T>
void adaptive_avg_pool2d_backward_reference(T* dx, const T* dy, int64_t n, int64_t c, int64_t h,
                                            int64_t w, int64_t out_h, int64_t out_w);

}  // namespace tide
