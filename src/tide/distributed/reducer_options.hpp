// How the Reducer sums gradients over the ranks: its buckets, overlap with backward, and
// what goes on the wire (f32 as they are, or bf16: half the bytes, summed in f32;
// Communicator::allreduce_bf16, as Horovod's fp16 compression). Apart from reducer.hpp, so
// that a configuration and DataParallel name them without the Reducer's thread and mutex.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace tide {

enum class GradCompression : uint8_t { none, bf16 };
constexpr std::array<std::string_view, 2> choice_names(GradCompression) {
  return {"none", "bf16"};
}

struct ReducerOptions {
  int64_t bucket_bytes = 25 << 20;       // about 25 MB, as PyTorch's DDP
  int64_t first_bucket_bytes = 1 << 20;  // the first bucket is small, so it starts early
  // Reduce buckets during backward on the Reducer's thread; false: all in finish(), on the
  // calling thread, after backward (and no small first bucket).
  bool overlap = true;
  GradCompression compression = GradCompression::none;  // bf16: f32 parameters only
};

}  // namespace tide
