// Caching allocator: freed blocks are kept in per-size free lists and handed out again.
// Training allocates the same sizes every step; reusing blocks avoids the page faults and
// zeroing that fresh pages from the system cost (several ms a step for an MLP).
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "tide/core/alloc.hpp"
#include "tide/core/error.hpp"

namespace tide {
namespace {

// Blocks smaller than this go straight to malloc, which already caches them well.
constexpr size_t kPoolMinBytes = 4096;
// Cached bytes beyond this are returned to the system.
constexpr size_t kPoolMaxCachedBytes = size_t{4} << 30;

size_t round_up(size_t bytes) {
  return (bytes + kAlignment - 1) / kAlignment * kAlignment;
}

class Pool {
 public:
  void* take(size_t rounded) {
    std::lock_guard lock(mutex_);
    auto it = free_.find(rounded);
    if (it == free_.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    cached_ -= rounded;
    return p;
  }
  bool give(void* p, size_t rounded) {
    std::lock_guard lock(mutex_);
    if (cached_ + rounded > kPoolMaxCachedBytes) return false;
    free_[rounded].push_back(p);
    cached_ += rounded;
    return true;
  }
  ~Pool() {
    for (auto& [size, blocks] : free_)
      for (void* p : blocks) std::free(p);
  }

 private:
  std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0;
};

Pool& pool() {
  // Leaked on purpose: tensors held by static objects may be freed after main returns.
  static Pool* p = new Pool;
  return *p;
}

}  // namespace

void* allocate_bytes(size_t bytes) {
  const size_t rounded = std::max(round_up(bytes), kAlignment);
  if (rounded >= kPoolMinBytes)
    if (void* p = pool().take(rounded)) return p;
  void* p = std::aligned_alloc(kAlignment, rounded);
  TIDE_CHECK(p != nullptr, "out of memory allocating {} bytes", bytes);
  return p;
}

void free_bytes(void* ptr, size_t bytes) {
  if (ptr == nullptr) return;
  const size_t rounded = std::max(round_up(bytes), kAlignment);
  if (rounded >= kPoolMinBytes && pool().give(ptr, rounded)) return;
  std::free(ptr);
}

}  // namespace tide
