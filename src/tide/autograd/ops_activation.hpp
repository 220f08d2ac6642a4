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
// x * Phi(x), the exact (erf) form of torch.nn.functional.gelu.
Variable gelu(const Variable& x);

// Softmax and log-softmax over dimension `dim` (negative counts from the end).
Variable softmax(const Variable& x, int dim);
Variable log_softmax(const Variable& x, int dim);

}  // namespace tide
