// Pooling over (N, C, H, W) (torch.nn.functional.max_pool2d, avg_pool2d,
// adaptive_avg_pool2d).
#pragma once

#include <array>

#include "tide/autograd/variable.hpp"
#include "tide/kernels/pool.hpp"

namespace tide {

struct Pool2dOptions {
  std::array<int64_t, 2> kernel{2, 2};
  std::array<int64_t, 2> stride{0, 0};    // 0: the kernel size, as PyTorch's default
  std::array<int64_t, 2> padding{0, 0};   // at most half the kernel
  std::array<int64_t, 2> dilation{1, 1};  // max pooling only, as PyTorch's
  // PyTorch's rule: a last partial window is kept if it starts inside the input or the left
  // padding.
  bool ceil_mode = false;
  // Average pooling only: whether padding counts in the divisor (PyTorch's default) or the
  // mean is over the input elements in the window.
  bool count_include_pad = true;
};

// The kernels' geometry for pooling input shape x (N, C, H, W); throws naming `op` when the
// window does not fit, the padding exceeds half the kernel or a size is not positive.
PoolGeometry pool_geometry(const Shape& x, const Pool2dOptions& options, const char* op);

Variable max_pool2d(const Variable& x, const Pool2dOptions& options = {});
// Refuses dilation other than 1, as PyTorch's avg_pool2d has none.
Variable avg_pool2d(const Variable& x, const Pool2dOptions& options = {});
// (N, C, H, W) -> (N, C, out_h, out_w) by PyTorch's adaptive bins; (1, 1) is global pooling.
Variable adaptive_avg_pool2d(const Variable& x, int64_t out_h, int64_t out_w);

}  // namespace tide
