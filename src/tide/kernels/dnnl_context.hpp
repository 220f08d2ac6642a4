// The oneDNN CPU engine and stream that every oneDNN kernel uses (internal to kernels).
#pragma once

#include <dnnl.hpp>

#include <map>
#include <mutex>

#include "tide/core/error.hpp"

namespace tide {

dnnl::engine& dnnl_engine();
dnnl::stream& dnnl_stream();

// Copies `from` (memory of one layout) into a new memory of layout `to`, or returns `from`
// itself when the layouts already agree: the reorder at the edge of a oneDNN primitive.
dnnl::memory reorder_to(const dnnl::memory& from, const dnnl::memory::desc& to);
// Copies `from` into the existing memory `to` (of another layout, same logical shape).
void reorder_into(const dnnl::memory& from, const dnnl::memory& to);

// The caller's buffer p as memory of layout d (no copy).
dnnl::memory user_memory(const dnnl::memory::desc& d, const float* p);
// New memory of layout d filled with zeros (RNN backward adds into its weight gradients).
dnnl::memory zeroed_memory(const dnnl::memory::desc& d);

// The primitives for `key`, built by build() on first use and kept for the life of the
// process (oneDNN compiles them; rebuilding per call would cost more than the work). One
// cache per call site; thread-safe. A oneDNN refusal becomes a tide::Error that names what
// was asked for, as describe() says.
template <class Key, class Build, class Describe>
const auto& cached_primitives(const Key& key, Build&& build, Describe&& describe) {
  using Value = decltype(build());
  static std::mutex mutex;
  static auto* cache = new std::map<Key, Value>;  // never freed, like oneDNN's own state
  std::lock_guard lock(mutex);
  auto it = cache->find(key);
  if (it == cache->end()) {
    try {
      it = cache->emplace(key, build()).first;
    } catch (const dnnl::error& e) {
      TIDE_FAIL("oneDNN has no {}: {}", describe(), e.what());
    }
  }
  return it->second;
}

}  // namespace tide
