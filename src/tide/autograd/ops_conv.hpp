// 2-D convolution (torch.nn.functional.conv2d).
#pragma once

#include <array>

#include "tide/autograd/variable.hpp"

namespace tide {

struct Conv2dOptions {
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> padding{0, 0};
  std::array<int64_t, 2> dilation{1, 1};
  int64_t groups = 1;
};

// x (N, C_in, H, W), weight (C_out, C_in / groups, KH, KW), bias (C_out) or undefined
// -> (N, C_out, OH, OW). f32 runs oneDNN; f64 runs the reference loops.
Variable conv2d(const Variable& x, const Variable& weight, const Variable& bias,
                const Conv2dOptions& options = {});

}  // namespace tide
