// Aligned allocation for tensor storage.
#pragma once

#include <cstddef>

namespace tide {

// Storage is aligned to 64 bytes (one cache line, one AVX-512 vector).
inline constexpr size_t kAlignment = 64;

// Returns at least `bytes` bytes aligned to kAlignment; throws tide::Error when memory runs
// out. The release build keeps freed blocks for reuse, so a training step that allocates
// the same activation sizes every time touches no fresh pages after the first step.
void* allocate_bytes(size_t bytes);
// Returns a block from allocate_bytes(bytes) with the same `bytes`.
void free_bytes(void* ptr, size_t bytes);

}  // namespace tide
