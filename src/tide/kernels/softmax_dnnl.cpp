// Softmax and log-softmax through oneDNN's primitives: their exp is vectorised, where the
// libm call in our loop is not. Built once per shape and kept.
#include <map>
#include <mutex>
#include <tuple>

#include "tide/core/error.hpp"
#include "tide/kernels/dnnl_context.hpp"
#include "tide/kernels/softmax.hpp"

namespace tide {
namespace {

struct SoftmaxPrimitives {
  dnnl::memory::desc data;
  dnnl::primitive forward, backward;
};

SoftmaxPrimitives build(int64_t outer, int64_t size, int64_t inner, bool log) {
  SoftmaxPrimitives p;
  p.data = dnnl::memory::desc({outer, size, inner}, dnnl::memory::data_type::f32,
                              dnnl::memory::format_tag::abc);
  auto& engine = dnnl_engine();
  const auto fwd = dnnl::prop_kind::forward_training;
  if (log) {
    dnnl::logsoftmax_forward::primitive_desc f({fwd, p.data, 1}, engine);
    p.forward = dnnl::logsoftmax_forward(f);
    p.backward = dnnl::logsoftmax_backward(
        dnnl::logsoftmax_backward::primitive_desc({p.data, p.data, 1}, engine, f));
  } else {
    dnnl::softmax_forward::primitive_desc f({fwd, p.data, 1}, engine);
    p.forward = dnnl::softmax_forward(f);
    p.backward = dnnl::softmax_backward(
        dnnl::softmax_backward::primitive_desc({p.data, p.data, 1}, engine, f));
  }
  return p;
}

const SoftmaxPrimitives& primitives(int64_t outer, int64_t size, int64_t inner, bool log) {
  static std::mutex mutex;
  static auto* cache = new std::map<std::tuple<int64_t, int64_t, int64_t, bool>, SoftmaxPrimitives>;
  const auto key = std::tuple(outer, size, inner, log);
  std::lock_guard lock(mutex);
  auto it = cache->find(key);
  if (it == cache->end()) {
    try {
      it = cache->emplace(key, build(outer, size, inner, log)).first;
    } catch (const dnnl::error& e) {
      TIDE_FAIL("oneDNN has no softmax for ({}, {}, {}): {}", outer, size, inner, e.what());
    }
  }
  return it->second;
}

dnnl::memory user(const dnnl::memory::desc& d, const float* p) {
  return dnnl::memory(d, dnnl_engine(), const_cast<float*>(p));
}

}  // namespace

void softmax(float* y, const float* x, int64_t outer, int64_t size, int64_t inner, bool log) {
  if (outer * size * inner == 0) return;
  const SoftmaxPrimitives& p = primitives(outer, size, inner, log);
  p.forward.execute(dnnl_stream(),
                    {{DNNL_ARG_SRC, user(p.data, x)}, {DNNL_ARG_DST, user(p.data, y)}});
  dnnl_stream().wait();
}

void softmax_backward(float* dx, const float* dy, const float* y, int64_t outer, int64_t size,
                      int64_t inner, bool log) {
  if (outer * size * inner == 0) return;
  const SoftmaxPrimitives& p = primitives(outer, size, inner, log);
  p.backward.execute(dnnl_stream(), {{DNNL_ARG_DST, user(p.data, y)},
                                     {DNNL_ARG_DIFF_DST, user(p.data, dy)},
                                     {DNNL_ARG_DIFF_SRC, user(p.data, dx)}});
  dnnl_stream().wait();
}

}  // namespace tide
