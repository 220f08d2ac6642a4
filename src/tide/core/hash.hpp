// FNV-1a, 64 bits: a fast, stable hash of bytes for checksums and config hashes (not
// cryptographic). Chain calls by passing the previous result as `h`.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tide {

constexpr uint64_t kFnv1aStart = 14695981039346656037ull;

inline uint64_t fnv1a64(const void* data, size_t n, uint64_t h = kFnv1aStart) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ bytes[i]) * 1099511628211ull;
  return h;
}

}  // namespace tide
