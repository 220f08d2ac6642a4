// 2-D pooling over NCHW tensors, as torch.nn.MaxPool2d / AvgPool2d / AdaptiveAvgPool2d
// (floor mode; average pooling counts the padding, PyTorch's default).
#pragma once

#include <cstdint>

namespace tide {

struct PoolGeometry {
  int64_t n = 1, c = 1, h = 1, w = 1;  // input (N, C, H, W)
  int64_t kh = 1, kw = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  // 0 when the window does not fit (the division alone would round -1/2 up to 0).
  int64_t out_h() const { return h + 2 * pad_h < kh ? 0 : (h + 2 * pad_h - kh) / stride_h + 1; }
  int64_t out_w() const { return w + 2 * pad_w < kw ? 0 : (w + 2 * pad_w - kw) / stride_w + 1; }
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

// y (N, C, OH, OW) = the mean of each window, padding counted as zeros.
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
