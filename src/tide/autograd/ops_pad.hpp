// Padding of the last two dimensions (torch.nn.functional.pad on (N, C, H, W) with four
// sizes), and the padding modes of torch.nn.Conv2d.
#pragma once

#include <array>
#include <string_view>

#include "tide/autograd/variable.hpp"

namespace tide {

// PyTorch's padding_mode names: zeros pads with 0 (F.pad's "constant"); reflect mirrors
// about the edge element without repeating it; replicate repeats the edge element; circular
// wraps around.
enum class PaddingMode { zeros, reflect, replicate, circular };

// "zeros", "reflect", "replicate" or "circular".
std::string_view padding_mode_name(PaddingMode mode);

// x (N, C, H, W) -> (N, C, top + H + bottom, left + W + right), pad = {left, right, top,
// bottom} in F.pad's order. Throws naming `op` for a negative size, reflect padding not
// smaller than the input's size (PyTorch's rule), circular padding larger than it, or
// replicate padding of an empty dimension.
Variable pad2d(const Variable& x, std::array<int64_t, 4> pad, PaddingMode mode,
               const char* op = "pad2d");

}  // namespace tide
