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
  return cached_primitives(
      std::tuple(outer, size, inner, log), [&] { return build(outer, size, inner, log); },
      [&] { return fmt::format("softmax for ({}, {}, {})", outer, size, inner); });
}

}  // namespace

void softmax(float* y, const float* x, int64_t outer, int64_t size, int64_t inner, bool log) {
  if (outer * size * inner == 0) return;
  const SoftmaxPrimitives& p = primitives(outer, size, inner, log);
  p.forward.execute(dnnl_stream(), {{DNNL_ARG_SRC, user_memory(p.data, x)},
                                    {DNNL_ARG_DST, user_memory(p.data, y)}});
  dnnl_stream().wait();
}

void softmax_backward(float* dx, const float* dy, const float* y, int64_t outer, int64_t size,
                      int64_t inner, bool log) {
  if (outer * size * inner == 0) return;
  const SoftmaxPrimitives& p = primitives(outer, size, inner, log);
  p.backward.execute(dnnl_stream(), {{DNNL_ARG_DST, user_memory(p.data, y)},
                                     {DNNL_ARG_DIFF_DST, user_memory(p.data, dy)},
                                     {DNNL_ARG_DIFF_SRC, user_memory(p.data, dx)}});
  dnnl_stream().wait();
}

}  // namespace tide
