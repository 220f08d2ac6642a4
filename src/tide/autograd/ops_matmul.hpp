// Matrix products.
#pragma once

#include "tide/autograd/variable.hpp"

namespace tide {

// (M,K) x (K,N) -> (M,N).
Variable matmul(const Variable& a, const Variable& b);

// x (..., in) times weight (out, in) transposed, plus bias (out) when defined: (..., out).
// The layout and semantics of torch.nn.functional.linear.
Variable linear(const Variable& x, const Variable& weight, const Variable& bias);

}  // namespace tide
