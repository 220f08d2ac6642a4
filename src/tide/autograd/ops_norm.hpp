// Normalisation: torch.nn.functional.layer_norm and batch_norm.
#pragma once

#include "tide/autograd/variable.hpp"

namespace tide {

// Normalises x over its last `normalized_dims` dimensions, then scales by weight and shifts
// by bias (each of those dimensions' shape, or undefined).
Variable layer_norm(const Variable& x, int normalized_dims, const Variable& weight,
                    const Variable& bias, double eps = 1e-5);

// x (N, C) or (N, C, ...) normalised per channel. training: batch statistics, and the running
// ones (C) updated in place with `momentum`; otherwise the running statistics are used.
Variable batch_norm(const Variable& x, const Variable& weight, const Variable& bias,
                    const Tensor& running_mean, const Tensor& running_var, bool training,
                    double momentum = 0.1, double eps = 1e-5);

}  // namespace tide
