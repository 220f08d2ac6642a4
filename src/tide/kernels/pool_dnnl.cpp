// Max and average pooling through oneDNN's primitives on NCHW tensors. Built once per shape
// and kept; max pooling's record is oneDNN's workspace.
#include <cstring>
#include <tuple>

#include "tide/kernels/dnnl_context.hpp"
#include "tide/kernels/pool.hpp"

namespace tide {
namespace {

struct PoolPrimitives {
  dnnl::memory::desc src, dst, workspace;
  dnnl::primitive forward, backward;
};

PoolPrimitives build(const PoolGeometry& g, dnnl::algorithm algo) {
  using fwd_t = dnnl::pooling_forward;
  using bwd_t = dnnl::pooling_backward;
  using tag = dnnl::memory::format_tag;
  PoolPrimitives p;
  p.src = dnnl::memory::desc({g.n, g.c, g.h, g.w}, dnnl::memory::data_type::f32, tag::nchw);
  p.dst =
      dnnl::memory::desc({g.n, g.c, g.out_h(), g.out_w()}, dnnl::memory::data_type::f32, tag::nchw);
  // Floor mode: the windows start at o * stride - pad; the right padding only has to make
  // oneDNN's size check, (H + 2 pad - K) / stride + 1 = OH, agree.
  const dnnl::memory::dims strides{g.stride_h, g.stride_w}, kernel{g.kh, g.kw},
      pad{g.pad_h, g.pad_w};
  auto& engine = dnnl_engine();
  fwd_t::primitive_desc f(
      fwd_t::desc(dnnl::prop_kind::forward_training, algo, p.src, p.dst, strides, kernel, pad, pad),
      engine);
  p.workspace = f.workspace_desc();
  p.forward = fwd_t(f);
  p.backward = bwd_t(
      bwd_t::primitive_desc(bwd_t::desc(algo, p.src, p.dst, strides, kernel, pad, pad), engine, f));
  return p;
}

const PoolPrimitives& primitives(const PoolGeometry& g, bool max) {
  const auto algo =
      max ? dnnl::algorithm::pooling_max : dnnl::algorithm::pooling_avg_include_padding;
  return cached_primitives(
      std::tuple(g.n, g.c, g.h, g.w, g.kh, g.kw, g.stride_h, g.stride_w, g.pad_h, g.pad_w, max),
      [&] { return build(g, algo); },
      [&] {
        return fmt::format("{} pooling {}x{} of ({}, {}, {}, {})", max ? "max" : "average", g.kh,
                           g.kw, g.n, g.c, g.h, g.w);
      });
}

bool empty(const PoolGeometry& g) {
  return g.n * g.c * g.h * g.w == 0;
}

void run_forward(float* y, void* record, const float* x, const PoolGeometry& g, bool max) {
  if (empty(g)) return;
  const PoolPrimitives& p = primitives(g, max);
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, user_memory(p.src, x)},
                                             {DNNL_ARG_DST, user_memory(p.dst, y)}};
  if (max) args.emplace(DNNL_ARG_WORKSPACE, dnnl::memory(p.workspace, dnnl_engine(), record));
  p.forward.execute(dnnl_stream(), args);
  dnnl_stream().wait();
}

void run_backward(float* dx, const float* dy, const void* record, const PoolGeometry& g, bool max) {
  if (empty(g)) return;
  const PoolPrimitives& p = primitives(g, max);
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_DIFF_DST, user_memory(p.dst, dy)},
                                             {DNNL_ARG_DIFF_SRC, user_memory(p.src, dx)}};
  if (max)
    args.emplace(DNNL_ARG_WORKSPACE,
                 dnnl::memory(p.workspace, dnnl_engine(), const_cast<void*>(record)));
  p.backward.execute(dnnl_stream(), args);
  dnnl_stream().wait();
}

}  // namespace

template <>
int64_t max_pool2d_record_bytes<float>(const PoolGeometry& g) {
  return empty(g) ? 0 : static_cast<int64_t>(primitives(g, true).workspace.get_size());
}

void max_pool2d(float* y, void* record, const float* x, const PoolGeometry& g) {
  run_forward(y, record, x, g, true);
}

void max_pool2d_backward(float* dx, const float* dy, const void* record, const PoolGeometry& g) {
  run_backward(dx, dy, record, g, true);
}

void avg_pool2d(float* y, const float* x, const PoolGeometry& g) {
  run_forward(y, nullptr, x, g, false);
}

void avg_pool2d_backward(float* dx, const float* dy, const PoolGeometry& g) {
  run_backward(dx, dy, nullptr, g, false);
}

}  // namespace tide
