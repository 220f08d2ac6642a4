// 2-D pooling over NCHW tensors, as torch.nn.MaxPool2d / AvgPool2d / AdaptiveAvgPool2d
// (floor mode; average pooling counts the padding, PyTorch's default). These are memory
// bound, so our own OpenMP loops over (N, C) planes serve as both fast and reference path.
#pragma once

#include <cstdint>

namespace tide {

struct PoolGeometry {
  int64_t n = 1, c = 1, h = 1, w = 1;  // input (N, C, H, W)
  int64_t kh = 1, kw = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  int64_t out_h() const { return (h + 2 * pad_h - kh) / stride_h + 1; }
  int64_t out_w() const { return (w + 2 * pad_w - kw) / stride_w + 1; }
};

// y (N, C, OH, OW) = the maximum of each window of x; argmax (N, C, OH, OW) = the index
// within the input plane (iy * W + ix) of that maximum, for the backward pass. Padding
// never wins.
template <class T>
void max_pool2d(T* y, int64_t* argmax, const T* x, const PoolGeometry& g);
// dx (N, C, H, W) = dy scattered back to the positions in argmax.
template <class T>
void max_pool2d_backward(T* dx, const T* dy, const int64_t* argmax, const PoolGeometry& g);

// y (N, C, OH, OW) = the mean of each window, padding counted as zeros.
template <class T>
void avg_pool2d(T* y, const T* x, const PoolGeometry& g);
template <class T>
void avg_pool2d_backward(T* dx, const T* dy, const PoolGeometry& g);

// y (N, C, OH, OW) = the mean over PyTorch's adaptive bins: rows floor(i*H/OH) up to
// ceil((i+1)*H/OH), and likewise for columns. OH = OW = 1 is global average pooling.
template <class T>
void adaptive_avg_pool2d(T* y, const T* x, int64_t n, int64_t c, int64_t h, int64_t w,
                         int64_t out_h, int64_t out_w);
template <class T>
void adaptive_avg_pool2d_backward(T* dx, const T* dy, int64_t n, int64_t c, int64_t h, int64_t w,
                                  int64_t out_h, int64_t out_w);

}  // namespace tide
