// What goes on the wire when gradients are summed over the ranks: f32 as they are, or bf16
// (half the bytes, summed in f32; Communicator::allreduce_bf16), as Horovod's fp16
// compression. Its own header, so that a configuration names it without the Reducer.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace tide {

enum class GradCompression : uint8_t { none, bf16 };
constexpr std::array<std::string_view, 2> choice_names(GradCompression) {
  return {"none", "bf16"};
}

}  // namespace tide
