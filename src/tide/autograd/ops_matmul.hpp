// Matrix products.
#pragma once

#include "tide/autograd/variable.hpp"

namespace tide {

// (M,K) x (K,N) -> (M,N).
Variable matmul(const Variable& a, const Variable& b);

// Batched product of (B, M, K) and (B, K, N) -> (B, M, N); trans_a / trans_b take the
// operand's last two dimensions transposed ((B, K, M) or (B, N, K) as stored). The product
// is scaled by alpha inside the GEMM (attention's 1/sqrt(d) costs no extra pass).
Variable bmm(const Variable& a, const Variable& b, bool trans_a = false, bool trans_b = false,
            double alpha = 1.0);

// x (..., in) times weight (out, in) transposed, plus bias (out) when defined: (..., out).
// The layout and semantics of torch.nn.functional.linear.
Variable linear(const Variable& x, const Variable& weight, const Variable& bias);
// relu(linear(x, weight, bias)) as one op: the ReLU runs inside the GEMM, and backward masks
// the gradient by the output's sign.
Variable linear_relu(const Variable& x, const Variable& weight, const Variable& bias);

}  // namespace tide
