// Tensor-level wrappers of the kernels that backward closures share (no graph recorded).
#pragma once

#include "tide/autograd/dispatch.hpp"
#include "tide/kernels/elementwise.hpp"

namespace tide {

// a OP b with broadcasting, as a new tensor.
Tensor binary_tensor(const Tensor& a, const Tensor& b, BinaryOp op);

// t summed down to `shape` (the backward of broadcasting); t itself when shapes match.
Tensor reduce_to_shape(const Tensor& t, const Shape& shape);

// alpha * t + beta, as a new tensor.
Tensor affine_tensor(const Tensor& t, double alpha, double beta);

}  // namespace tide
