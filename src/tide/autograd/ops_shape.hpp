// Shape ops: views that share the input's storage.
#pragma once

#include "tide/autograd/variable.hpp"

namespace tide {

// The same elements with a new shape (one dimension may be -1).
Variable reshape(const Variable& x, Shape shape);
// Merges dimensions start_dim..end into one: (N, 1, 28, 28) -> (N, 784) for start_dim 1.
Variable flatten(const Variable& x, int start_dim = 1);

// Joins tensors along `dim`; all other dimensions must agree (torch.cat).
Variable concat(const std::vector<Variable>& xs, int dim);
// Elements [start, end) along `dim`, as a new tensor (torch.narrow, then a copy).
Variable slice(const Variable& x, int dim, int64_t start, int64_t end);
// Consecutive pieces of the given sizes along `dim`; the sizes must add up to its size.
std::vector<Variable> split(const Variable& x, const std::vector<int64_t>& sizes, int dim);
// Reorders the axes: output dimension i is input dimension dims[i] (torch.permute).
Variable permute(const Variable& x, const std::vector<int>& dims);
// Swaps two axes.
Variable transpose(const Variable& x, int dim0, int dim1);
// The elements in reverse order along `dim` (torch.flip with one dimension), as a new tensor.
Variable flip(const Variable& x, int dim);

}  // namespace tide
