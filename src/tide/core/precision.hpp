// Precision: the number type a product reads its operands in. f32 is the reference; bf16
// is mixed precision (bfloat16 operands, f32 accumulation, f32 results; the LSTM and RNN
// write their sequence and states as bf16, widened to f32), decided op by op in
// autograd/autocast.hpp.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace tide {

enum class Precision : uint8_t { f32, bf16 };
constexpr std::array<std::string_view, 2> choice_names(Precision) {
  return {"f32", "bf16"};
}

}  // namespace tide
