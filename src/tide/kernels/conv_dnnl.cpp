// Convolution through oneDNN. Its primitives are created with format_tag::any, so oneDNN
// picks blocked layouts (nChw16c and the like) that run several times faster than plain
// NCHW; tensors are reordered from and to NCHW at the edges. Everything is built once per
// geometry and kept.
#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "tide/core/error.hpp"
#include "tide/kernels/conv.hpp"
#include "tide/kernels/dnnl_context.hpp"

namespace tide {
namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

struct ConvPrimitives {
  dnnl::memory::desc src, weights, bias, dst;  // the plain user layouts
  dnnl::convolution_forward::primitive_desc forward;
  dnnl::convolution_backward_data::primitive_desc backward_data;
  dnnl::convolution_backward_weights::primitive_desc backward_weights;
  dnnl::convolution_forward forward_prim;
  dnnl::convolution_backward_data backward_data_prim;
  dnnl::convolution_backward_weights backward_weights_prim;
};

auto key_of(const ConvGeometry& g) {
  return std::tuple(g.n, g.c_in, g.h, g.w, g.c_out, g.kh, g.kw, g.stride_h, g.stride_w, g.pad_h,
                    g.pad_w, g.dilation_h, g.dilation_w, g.groups);
}

ConvPrimitives build(const ConvGeometry& g) {
  const dnnl::memory::dims src{g.n, g.c_in, g.h, g.w}, dst{g.n, g.c_out, g.out_h(), g.out_w()},
      bias{g.c_out}, strides{g.stride_h, g.stride_w},
      dilates{g.dilation_h - 1, g.dilation_w - 1},  // oneDNN counts dilation from 0
      pad_l{g.pad_h, g.pad_w},
      // The far-side padding that gives PyTorch's output size (it may be less than pad_l).
      pad_r{(g.out_h() - 1) * g.stride_h + g.dilation_h * (g.kh - 1) + 1 - g.h - g.pad_h,
            (g.out_w() - 1) * g.stride_w + g.dilation_w * (g.kw - 1) + 1 - g.w - g.pad_w};
  const dnnl::memory::dims weights =
      g.groups == 1
          ? dnnl::memory::dims{g.c_out, g.c_in, g.kh, g.kw}
          : dnnl::memory::dims{g.groups, g.c_out / g.groups, g.c_in / g.groups, g.kh, g.kw};
  ConvPrimitives p;
  p.src = dnnl::memory::desc(src, dt::f32, tag::nchw);
  p.dst = dnnl::memory::desc(dst, dt::f32, tag::nchw);
  p.bias = dnnl::memory::desc(bias, dt::f32, tag::x);
  p.weights = dnnl::memory::desc(weights, dt::f32, g.groups == 1 ? tag::oihw : tag::goihw);
  const dnnl::memory::desc src_any(src, dt::f32, tag::any), dst_any(dst, dt::f32, tag::any),
      weights_any(weights, dt::f32, tag::any);
  const auto algo = dnnl::algorithm::convolution_direct;
  auto& engine = dnnl_engine();
  p.forward = dnnl::convolution_forward::primitive_desc(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, algo, src_any, weights_any,
                                      p.bias, dst_any, strides, dilates, pad_l, pad_r),
      engine);
  p.backward_data = dnnl::convolution_backward_data::primitive_desc(
      dnnl::convolution_backward_data::desc(algo, src_any, weights_any, dst_any, strides, dilates,
                                            pad_l, pad_r),
      engine, p.forward);
  p.backward_weights = dnnl::convolution_backward_weights::primitive_desc(
      dnnl::convolution_backward_weights::desc(algo, src_any, weights_any, p.bias, dst_any, strides,
                                               dilates, pad_l, pad_r),
      engine, p.forward);
  p.forward_prim = dnnl::convolution_forward(p.forward);
  p.backward_data_prim = dnnl::convolution_backward_data(p.backward_data);
  p.backward_weights_prim = dnnl::convolution_backward_weights(p.backward_weights);
  return p;
}

const ConvPrimitives& primitives(const ConvGeometry& g) {
  TIDE_CHECK(g.groups > 0 && g.c_in % g.groups == 0 && g.c_out % g.groups == 0,
             "conv2d: {} input and {} output channels are not divisible by {} groups", g.c_in,
             g.c_out, g.groups);
  TIDE_CHECK(g.out_h() > 0 && g.out_w() > 0,
             "conv2d: a {}x{} kernel (dilation {}x{}, padding {}x{}) does not fit a {}x{} input",
             g.kh, g.kw, g.dilation_h, g.dilation_w, g.pad_h, g.pad_w, g.h, g.w);
  return cached_primitives(
      key_of(g), [&] { return build(g); },
      [&] {
        return fmt::format("convolution for this geometry ({}x{} kernel on {}x{})", g.kh, g.kw, g.h,
                           g.w);
      });
}

// Runs `prim` writing `out_desc` (its layout) and reorders the result into the user's `out`.
void execute_into(const dnnl::primitive& prim, std::unordered_map<int, dnnl::memory> args,
                  int out_arg, const dnnl::memory::desc& out_desc, const dnnl::memory& out) {
  dnnl::memory result = out_desc == out.get_desc() ? out : dnnl::memory(out_desc, dnnl_engine());
  args.emplace(out_arg, result);
  prim.execute(dnnl_stream(), args);
  if (result.get_data_handle() != out.get_data_handle()) reorder_into(result, out);
  dnnl_stream().wait();
}

}  // namespace

void conv2d_forward(float* y, const float* x, const float* w, const float* b,
                    const ConvGeometry& g) {
  const ConvPrimitives& p = primitives(g);
  std::vector<float> zeros;
  if (!b) {  // the primitive was built with a bias; a missing one is zero
    zeros.assign(static_cast<size_t>(g.c_out), 0.0f);
    b = zeros.data();
  }
  execute_into(p.forward_prim,
               {{DNNL_ARG_SRC, reorder_to(user_memory(p.src, x), p.forward.src_desc())},
                {DNNL_ARG_WEIGHTS, reorder_to(user_memory(p.weights, w), p.forward.weights_desc())},
                {DNNL_ARG_BIAS, user_memory(p.bias, b)}},
               DNNL_ARG_DST, p.forward.dst_desc(), user_memory(p.dst, y));
}

void conv2d_backward_data(float* dx, const float* dy, const float* w, const ConvGeometry& g) {
  const ConvPrimitives& p = primitives(g);
  const auto& pd = p.backward_data;
  execute_into(p.backward_data_prim,
               {{DNNL_ARG_DIFF_DST, reorder_to(user_memory(p.dst, dy), pd.diff_dst_desc())},
                {DNNL_ARG_WEIGHTS, reorder_to(user_memory(p.weights, w), pd.weights_desc())}},
               DNNL_ARG_DIFF_SRC, pd.diff_src_desc(), user_memory(p.src, dx));
}

void conv2d_backward_weights(float* dw, float* db, const float* dy, const float* x,
                             const ConvGeometry& g) {
  const ConvPrimitives& p = primitives(g);
  const auto& pd = p.backward_weights;
  std::vector<float> scratch_bias;
  if (!db) {
    scratch_bias.resize(static_cast<size_t>(g.c_out));
    db = scratch_bias.data();
  }
  execute_into(p.backward_weights_prim,
               {{DNNL_ARG_SRC, reorder_to(user_memory(p.src, x), pd.src_desc())},
                {DNNL_ARG_DIFF_DST, reorder_to(user_memory(p.dst, dy), pd.diff_dst_desc())},
                {DNNL_ARG_DIFF_BIAS, user_memory(p.bias, db)}},
               DNNL_ARG_DIFF_WEIGHTS, pd.diff_weights_desc(), user_memory(p.weights, dw));
}

}  // namespace tide
