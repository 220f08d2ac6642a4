// 2-D convolution (torch.nn.functional.conv2d).
#pragma once

#include <array>

#include "tide/autograd/ops_pad.hpp"
#include "tide/autograd/ops_pool.hpp"
#include "tide/autograd/variable.hpp"

namespace tide {

struct Conv2dOptions {
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> padding{0, 0};
  std::array<int64_t, 2> dilation{1, 1};
  int64_t groups = 1;
  // How the padding is filled, as torch.nn.Conv2d's padding_mode: other than zeros, the input
  // is padded by pad2d, then convolved with no padding.
  PaddingMode padding_mode = PaddingMode::zeros;
};

// x (N, C_in, H, W), weight (C_out, C_in / groups, KH, KW), bias (C_out) or undefined
// -> (N, C_out, OH, OW). f32 runs oneDNN; f64 runs the reference loops.
Variable conv2d(const Variable& x, const Variable& weight, const Variable& bias,
                const Conv2dOptions& options = {});

// max_pool2d(relu(conv2d(x, weight, bias))) as one op: for f32 one oneDNN pipeline that
// keeps the convolution's output in oneDNN's blocked layout (see kernels/conv.hpp); the
// values and gradients are those of the three ops. Pooling with ceil mode or dilation runs
// the three ops one by one.
Variable conv2d_relu_maxpool(const Variable& x, const Variable& weight, const Variable& bias,
                             const Conv2dOptions& conv_options, const Pool2dOptions& pool_options);

}  // namespace tide
