#include "tide/kernels/dnnl_context.hpp"
#include "tide/kernels/cpu.hpp"

#include <malloc.h>

#include <cstring>
#include <limits>
#include <mutex>
#include <tuple>
#include <vector>

namespace tide {
namespace {

// oneDNN allocates its temporaries (inputs reordered into blocked layouts, blocked outputs,
// workspaces) with malloc on every call. By default glibc serves blocks above 128 KiB from
// mmap and trims the heap on free, so each step faulted in megabytes of fresh zeroed pages:
// the CNN step took 34 ms against 27-28 ms with these two settings. Blocks up to 32 MiB
// (glibc's largest threshold) now come from the heap, and freed memory stays for reuse, as
// it should in a process that allocates the same sizes every step.
void keep_freed_memory() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
}

struct Context {
  Context() { keep_freed_memory(); }
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
};

Context& context() {
  // Never destroyed: oneDNN's own static state may be torn down first at exit.
  static Context* c = new Context;
  return *c;
}

}  // namespace

dnnl::engine& dnnl_engine() {
  return context().engine;
}
dnnl::stream& dnnl_stream() {
  return context().stream;
}

dnnl::memory user_memory(const dnnl::memory::desc& d, const float* p) {
  return dnnl::memory(d, dnnl_engine(), const_cast<float*>(p));
}

dnnl::memory zeroed_memory(const dnnl::memory::desc& d) {
  dnnl::memory m(d, dnnl_engine());
  std::memset(m.get_data_handle(), 0, d.get_size());
  return m;
}

dnnl::memory reorder_to(const dnnl::memory& from, const dnnl::memory::desc& to) {
  if (from.get_desc() == to) return from;
  dnnl::memory out(to, dnnl_engine());
  reorder_into(from, out);
  return out;
}

void reorder_into(const dnnl::memory& from, const dnnl::memory& to) {
  // Reorder primitives are JIT-compiled; keep them, found by their two layouts.
  static std::mutex mutex;
  static auto* cache =
      new std::vector<std::tuple<dnnl::memory::desc, dnnl::memory::desc, dnnl::reorder>>;
  dnnl::reorder r;
  {
    std::lock_guard lock(mutex);
    for (const auto& [a, b, prim] : *cache)
      if (a == from.get_desc() && b == to.get_desc()) r = prim;
    if (!r) {
      r = dnnl::reorder(from, to);
      cache->emplace_back(from.get_desc(), to.get_desc(), r);
    }
  }
  r.execute(dnnl_stream(), const_cast<dnnl::memory&>(from), const_cast<dnnl::memory&>(to));
}

std::string cpu_isa_name() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41:
      return "sse41";
    case dnnl::cpu_isa::avx:
      return "avx";
    case dnnl::cpu_isa::avx2:
      return "avx2";
    case dnnl::cpu_isa::avx2_vnni:
      return "avx2_vnni";
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "other";
  }
}

bool bf16_native() {
  // oneDNN's ISA values are bit sets, each holding the sets it extends.
  const auto bits = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto bf16 = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_bf16);
  return (bits & bf16) == bf16;
}

}  // namespace tide
