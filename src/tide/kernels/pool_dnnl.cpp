// Max and average pooling through oneDNN's primitives on NCHW tensors. Built once per shape
// and kept; max pooling's record is oneDNN's workspace. The pooling_v2 primitives take the
// dilation (oneDNN counts it from 0); ceil mode is a larger bottom and right padding.
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
  using fwd_t = dnnl::pooling_v2_forward;
  using bwd_t = dnnl::pooling_v2_backward;
  using tag = dnnl::memory::format_tag;
  PoolPrimitives p;
  p.src = dnnl::memory::desc({g.n, g.c, g.h, g.w}, dnnl::memory::data_type::f32, tag::nchw);
  p.dst =
      dnnl::memory::desc({g.n, g.c, g.out_h(), g.out_w()}, dnnl::memory::data_type::f32, tag::nchw);
  // The windows start at o * stride - pad; the end padding only has to make oneDNN's size
  // check, (H + pad + pad_end - span) / stride + 1 = OH, agree. In floor mode it is the
  // padding given; windows past it in ceil mode are clipped, as PyTorch's.
  const dnnl::memory::dims strides{g.stride_h, g.stride_w}, kernel{g.kh, g.kw},
      dilation{g.dilation_h - 1, g.dilation_w - 1}, pad{g.pad_h, g.pad_w},
      pad_end{g.pad_bottom(), g.pad_right()};
  auto& engine = dnnl_engine();
  fwd_t::primitive_desc f(fwd_t::desc(dnnl::prop_kind::forward_training, algo, p.src, p.dst,
                                      strides, kernel, dilation, pad, pad_end),
                          engine);
  p.workspace = f.workspace_desc();
  p.forward = fwd_t(f);
  p.backward = bwd_t(bwd_t::primitive_desc(
      bwd_t::desc(algo, p.src, p.dst, strides, kernel, dilation, pad, pad_end), engine, f));
  return p;
}

dnnl::algorithm algorithm_of(const PoolGeometry& g, bool max) {
  if (max) return dnnl::algorithm::pooling_max;
  return g.count_include_pad ? dnnl::algorithm::pooling_avg_include_padding
                             : dnnl::algorithm::pooling_avg_exclude_padding;
}

const PoolPrimitives& primitives(const PoolGeometry& g, bool max) {
  return cached_primitives(
      std::tuple(g.n, g.c, g.h, g.w, g.kh, g.kw, g.stride_h, g.stride_w, g.pad_h, g.pad_w,
                 g.dilation_h, g.dilation_w, g.ceil_mode, g.count_include_pad || max, max),
      [&] { return build(g, algorithm_of(g, max)); },
      [&] {
        return fmt::format("{} pooling {}x{} of ({}, {}, {}, {})", max ? "max" : "average", g.kh,
                           g.kw, g.n, g.c, g.h, g.w);
      });
}

// oneDNN's average including padding divides by the whole kernel; PyTorch's divisor leaves out
// the part of a ceil-mode window past the padding. Only then do the reference loops run.
bool dnnl_cannot_average(const PoolGeometry& g) {
  return g.count_include_pad && (g.pad_bottom() > g.pad_h || g.pad_right() > g.pad_w);
}

// oneDNN's maximum of a window of padding only is the lowest float, PyTorch's -inf: such
// geometries (dilated, rare) run the reference loops, whose record is an argmax per output.
bool dnnl_cannot_max(const PoolGeometry& g) {
  return g.has_window_of_padding_only();
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
  if (empty(g)) return 0;
  if (dnnl_cannot_max(g)) return g.n * g.c * g.out_h() * g.out_w() * 8;
  return static_cast<int64_t>(primitives(g, true).workspace.get_size());
}

void max_pool2d(float* y, void* record, const float* x, const PoolGeometry& g) {
  if (dnnl_cannot_max(g)) return max_pool2d_reference(y, static_cast<int64_t*>(record), x, g);
  run_forward(y, record, x, g, true);
}

void max_pool2d_backward(float* dx, const float* dy, const void* record, const PoolGeometry& g) {
  if (dnnl_cannot_max(g))
    return max_pool2d_backward_reference(dx, dy, static_cast<const int64_t*>(record), g);
  run_backward(dx, dy, record, g, true);
}

void avg_pool2d(float* y, const float* x, const PoolGeometry& g) {
  if (dnnl_cannot_average(g)) return avg_pool2d_reference(y, x, g);
  run_forward(y, nullptr, x, g, false);
}

void avg_pool2d_backward(float* dx, const float* dy, const PoolGeometry& g) {
  if (dnnl_cannot_average(g)) return avg_pool2d_backward_reference(dx, dy, g);
  run_backward(dx, dy, nullptr, g, false);
}

}  // namespace tide
