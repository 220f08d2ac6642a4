// Shape ops: views that share the input's storage.
#pragma once

#include "tide/autograd/variable.hpp"

namespace tide {

// The same elements with a new shape (one dimension may be -1).
Variable reshape(const Variable& x, Shape shape);
// Merges dimensions start_dim..end into one: (N, 1, 28, 28) -> (N, 784) for start_dim 1.
Variable flatten(const Variable& x, int start_dim = 1);

}  // namespace tide
