// Sums and means.
#pragma once

#include "tide/autograd/variable.hpp"

namespace tide {

// The sum / mean of all elements: a scalar (shape []).
Variable sum(const Variable& x);
Variable mean(const Variable& x);
// The sum / mean over dimension `dim`; keepdim keeps it with size 1.
Variable sum(const Variable& x, int dim, bool keepdim = false);
Variable mean(const Variable& x, int dim, bool keepdim = false);

}  // namespace tide
