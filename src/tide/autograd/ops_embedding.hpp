// Embedding lookup and dropout.
#pragma once

#include <optional>

#include "tide/autograd/variable.hpp"
#include "tide/core/rng.hpp"

namespace tide {

// weight (V, D) rows at indices (i64, any shape) -> (indices..., D), as
// torch.nn.functional.embedding. Throws naming the position of an index outside [0, V).
// padding_idx (negative counts from the end, as PyTorch): that row is looked up as any other
// but receives no gradient.
Variable embedding(const Variable& weight, const Tensor& indices,
                   std::optional<int64_t> padding_idx = std::nullopt);

// Zeroes each element with probability p and scales the rest by 1 / (1 - p); the mask comes
// from `rng`, so it is a pure function of the stream's name and position. Identity when p is 0.
Variable dropout(const Variable& x, double p, RngStream& rng);

}  // namespace tide
