// Elementwise functions and the softmax family.
#pragma once

#include "tide/autograd/variable.hpp"

namespace tide {

Variable relu(const Variable& x);
Variable sigmoid(const Variable& x);
Variable tanh(const Variable& x);
Variable exp(const Variable& x);
Variable log(const Variable& x);
Variable square(const Variable& x);
Variable sqrt(const Variable& x);
// torch.nn.functional.gelu: x * Phi(x), the exact (erf) form; or with
// GeluApproximation::tanh, 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) (approximate='tanh').
enum class GeluApproximation { none, tanh };
Variable gelu(const Variable& x, GeluApproximation approximate = GeluApproximation::none);

// Softmax and log-softmax over dimension `dim` (negative counts from the end).
Variable softmax(const Variable& x, int dim);
Variable log_softmax(const Variable& x, int dim);

}  // namespace tide
