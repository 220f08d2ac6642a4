// Allocator without caching: every block goes back to the system, so AddressSanitizer sees
// each use after free.
#include <cstdlib>

#include "tide/core/alloc.hpp"
#include "tide/core/error.hpp"

namespace tide {

void* allocate_bytes(size_t bytes) {
  const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  void* p = std::aligned_alloc(kAlignment, rounded == 0 ? kAlignment : rounded);
  TIDE_CHECK(p != nullptr, "out of memory allocating {} bytes", bytes);
  return p;
}

void free_bytes(void* ptr, size_t) {
  std::free(ptr);
}

}  // namespace tide
