// Convolution through oneDNN. Its primitives are created with format_tag::any, so oneDNN
// picks blocked layouts (nChw16c and the like) that run several times faster than plain
// NCHW; tensors are reordered from and to NCHW at the edges. Everything is built once per
// geometry and kept. Under Precision::bf16 the passes read bf16 (the reorders at the edges
// round x, w and dy) and write f32.
#include <optional>
#include <tuple>
#include <unordered_map>

#include "tide/core/error.hpp"
#include "tide/core/options.hpp"
#include "tide/kernels/conv.hpp"
#include "tide/kernels/dnnl_context.hpp"
#include "tide/kernels/pool.hpp"

namespace tide {
namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;
using dims = dnnl::memory::dims;

// The descriptions every pass shares: plain user layouts, `any` layouts for the primitive,
// and the geometry in oneDNN's terms.
// The `_any` layouts are what a pass reads (x, w, and dy in backward: bf16 under
// Precision::bf16) and the `_out` layouts what it writes (y, dx, dw: always f32).
struct ConvDescs {
  dnnl::memory::desc src, weights, bias, dst;        // the plain user layouts
  dnnl::memory::desc src_any, weights_any, dst_any;  // oneDNN chooses these
  dnnl::memory::desc src_out, weights_out, dst_out;
  dims strides, dilates, pad_l, pad_r;
};

ConvDescs describe(const ConvGeometry& g) {
  TIDE_CHECK(g.groups > 0 && g.c_in % g.groups == 0 && g.c_out % g.groups == 0,
             "conv2d: {} input and {} output channels are not divisible by {} groups", g.c_in,
             g.c_out, g.groups);
  TIDE_CHECK(g.out_h() > 0 && g.out_w() > 0,
             "conv2d: a {}x{} kernel (dilation {}x{}, padding {}x{}) does not fit a {}x{} input",
             g.kh, g.kw, g.dilation_h, g.dilation_w, g.pad_h, g.pad_w, g.h, g.w);
  const dims src{g.n, g.c_in, g.h, g.w}, dst{g.n, g.c_out, g.out_h(), g.out_w()};
  const dims weights = g.groups == 1
                           ? dims{g.c_out, g.c_in, g.kh, g.kw}
                           : dims{g.groups, g.c_out / g.groups, g.c_in / g.groups, g.kh, g.kw};
  ConvDescs d;
  d.src = dnnl::memory::desc(src, dt::f32, tag::nchw);
  d.dst = dnnl::memory::desc(dst, dt::f32, tag::nchw);
  d.bias = dnnl::memory::desc({g.c_out}, dt::f32, tag::x);
  d.weights = dnnl::memory::desc(weights, dt::f32, g.groups == 1 ? tag::oihw : tag::goihw);
  const dt in = g.compute == Precision::bf16 ? dt::bf16 : dt::f32;
  d.src_any = dnnl::memory::desc(src, in, tag::any);
  d.dst_any = dnnl::memory::desc(dst, in, tag::any);
  d.weights_any = dnnl::memory::desc(weights, in, tag::any);
  d.src_out = dnnl::memory::desc(src, dt::f32, tag::any);
  d.dst_out = dnnl::memory::desc(dst, dt::f32, tag::any);
  d.weights_out = dnnl::memory::desc(weights, dt::f32, tag::any);
  d.strides = {g.stride_h, g.stride_w};
  d.dilates = {g.dilation_h - 1, g.dilation_w - 1};  // oneDNN counts dilation from 0
  d.pad_l = {g.pad_h, g.pad_w};
  // The far-side padding that gives PyTorch's output size (it may be less than pad_l).
  d.pad_r = {(g.out_h() - 1) * g.stride_h + g.dilation_h * (g.kh - 1) + 1 - g.h - g.pad_h,
             (g.out_w() - 1) * g.stride_w + g.dilation_w * (g.kw - 1) + 1 - g.w - g.pad_w};
  return d;
}

constexpr auto kAlgo = dnnl::algorithm::convolution_direct;

// The forward description, with a bias or without (an empty bias description).
dnnl::convolution_forward::primitive_desc forward_desc(const ConvDescs& d, bool has_bias) {
  return {
      {dnnl::prop_kind::forward_training, kAlgo, d.src_any, d.weights_any,
       has_bias ? d.bias : dnnl::memory::desc(), d.dst_out, d.strides, d.dilates, d.pad_l, d.pad_r},
      dnnl_engine()};
}

// Forward and weight-gradient primitives, with or without a bias.
struct WeightPrimitives {
  ConvDescs d;
  dnnl::convolution_forward::primitive_desc forward;
  dnnl::convolution_backward_weights::primitive_desc backward_weights;
  dnnl::convolution_forward forward_prim;
  dnnl::convolution_backward_weights backward_weights_prim;
};

// The input-gradient primitive, the same whether the layer has a bias or not.
struct DataPrimitives {
  ConvDescs d;
  dnnl::convolution_backward_data::primitive_desc backward_data;
  dnnl::convolution_backward_data backward_data_prim;
};

auto key_of(const ConvGeometry& g) {
  return std::tuple(g.n, g.c_in, g.h, g.w, g.c_out, g.kh, g.kw, g.stride_h, g.stride_w, g.pad_h,
                    g.pad_w, g.dilation_h, g.dilation_w, g.groups, g.compute);
}

std::string what(const ConvGeometry& g) {
  return fmt::format("{} convolution for this geometry ({}x{} kernel on {}x{})", name_of(g.compute),
                     g.kh, g.kw, g.h, g.w);
}

const WeightPrimitives& weight_primitives(const ConvGeometry& g, bool has_bias) {
  return cached_primitives(
      std::tuple(key_of(g), has_bias),
      [&] {
        WeightPrimitives p;
        p.d = describe(g);
        p.forward = forward_desc(p.d, has_bias);
        p.backward_weights = dnnl::convolution_backward_weights::primitive_desc(
            {kAlgo, p.d.src_any, p.d.weights_out, has_bias ? p.d.bias : dnnl::memory::desc(),
             p.d.dst_any, p.d.strides, p.d.dilates, p.d.pad_l, p.d.pad_r},
            dnnl_engine(), p.forward);
        p.forward_prim = dnnl::convolution_forward(p.forward);
        p.backward_weights_prim = dnnl::convolution_backward_weights(p.backward_weights);
        return p;
      },
      [&] { return what(g); });
}

const DataPrimitives& data_primitives(const ConvGeometry& g) {
  return cached_primitives(
      key_of(g),
      [&] {
        DataPrimitives p;
        p.d = describe(g);
        p.backward_data = dnnl::convolution_backward_data::primitive_desc(
            {kAlgo, p.d.src_out, p.d.weights_any, p.d.dst_any, p.d.strides, p.d.dilates, p.d.pad_l,
             p.d.pad_r},
            dnnl_engine(), forward_desc(p.d, false));
        p.backward_data_prim = dnnl::convolution_backward_data(p.backward_data);
        return p;
      },
      [&] { return what(g); });
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

// The input-gradient pass (when dx) and the weight-gradient pass (when dw; db or null), with
// the output gradient from dy_as(descs, layout): memory in the layout the pass asks for.
template <class DyAs>
void backward_passes(float* dx, float* dw, float* db, const float* x, const float* w,
                     const ConvGeometry& g, DyAs&& dy_as) {
  if (dx) {
    const DataPrimitives& p = data_primitives(g);
    const auto& pd = p.backward_data;
    execute_into(p.backward_data_prim,
                 {{DNNL_ARG_DIFF_DST, dy_as(p.d, pd.diff_dst_desc())},
                  {DNNL_ARG_WEIGHTS, reorder_to(user_memory(p.d.weights, w), pd.weights_desc())}},
                 DNNL_ARG_DIFF_SRC, pd.diff_src_desc(), user_memory(p.d.src, dx));
  }
  if (dw) {
    const WeightPrimitives& p = weight_primitives(g, db != nullptr);
    const auto& pd = p.backward_weights;
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, reorder_to(user_memory(p.d.src, x), pd.src_desc())},
        {DNNL_ARG_DIFF_DST, dy_as(p.d, pd.diff_dst_desc())}};
    if (db) args.emplace(DNNL_ARG_DIFF_BIAS, user_memory(p.d.bias, db));
    execute_into(p.backward_weights_prim, std::move(args), DNNL_ARG_DIFF_WEIGHTS,
                 pd.diff_weights_desc(), user_memory(p.d.weights, dw));
  }
}

// Convolution with ReLU as a post-op, then max pooling, all in the layouts the convolution
// chooses; the backward passes read and write those layouts too.
struct BlockPrimitives {
  ConvDescs d;
  dnnl::memory::desc pooled;  // the user's NCHW pooled output
  dnnl::convolution_forward::primitive_desc conv;
  dnnl::pooling_forward::primitive_desc pool;
  dnnl::pooling_backward::primitive_desc pool_backward;
  dnnl::eltwise_backward::primitive_desc relu_backward;
  dnnl::primitive conv_prim, pool_prim, pool_backward_prim, relu_backward_prim;
};

BlockPrimitives build_block(const ConvGeometry& g, const PoolGeometry& pg, bool has_bias) {
  BlockPrimitives p;
  p.d = describe(g);
  auto& engine = dnnl_engine();
  dnnl::post_ops relu;
  relu.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  dnnl::primitive_attr attr;
  attr.set_post_ops(relu);
  const auto bias = has_bias ? p.d.bias : dnnl::memory::desc();
  p.conv = dnnl::convolution_forward::primitive_desc(
      {dnnl::prop_kind::forward_training, kAlgo, p.d.src_any, p.d.weights_any, bias, p.d.dst_out,
       p.d.strides, p.d.dilates, p.d.pad_l, p.d.pad_r},
      attr, engine);
  const dnnl::memory::desc activ = p.conv.dst_desc();  // the convolution's layout throughout
  const dnnl::memory::dims pooled_dims{pg.n, pg.c, pg.out_h(), pg.out_w()},
      strides{pg.stride_h, pg.stride_w}, kernel{pg.kh, pg.kw}, pad{pg.pad_h, pg.pad_w};
  p.pooled = dnnl::memory::desc(pooled_dims, dt::f32, tag::nchw);
  const dnnl::memory::desc pooled_any(pooled_dims, dt::f32, tag::any);
  const auto max = dnnl::algorithm::pooling_max;
  p.pool = dnnl::pooling_forward::primitive_desc(
      {dnnl::prop_kind::forward_training, max, activ, pooled_any, strides, kernel, pad, pad},
      engine);
  p.pool_backward = dnnl::pooling_backward::primitive_desc(
      {max, activ, p.pool.dst_desc(), strides, kernel, pad, pad}, engine, p.pool);
  // ReLU's gradient from its output, which is what the block keeps.
  const auto relu_algo = dnnl::algorithm::eltwise_relu_use_dst_for_bwd;
  const dnnl::eltwise_forward::primitive_desc relu_hint(
      {dnnl::prop_kind::forward_training, relu_algo, activ, 0.0f, 0.0f}, engine);
  p.relu_backward = dnnl::eltwise_backward::primitive_desc({relu_algo, activ, activ, 0.0f, 0.0f},
                                                           engine, relu_hint);
  p.conv_prim = dnnl::convolution_forward(p.conv);
  p.pool_prim = dnnl::pooling_forward(p.pool);
  p.pool_backward_prim = dnnl::pooling_backward(p.pool_backward);
  p.relu_backward_prim = dnnl::eltwise_backward(p.relu_backward);
  return p;
}

const BlockPrimitives& block_primitives(const ConvGeometry& g, const PoolGeometry& pg,
                                        bool has_bias) {
  return cached_primitives(
      std::tuple(key_of(g), pg.kh, pg.kw, pg.stride_h, pg.stride_w, pg.pad_h, pg.pad_w, has_bias),
      [&] { return build_block(g, pg, has_bias); },
      [&] { return what(g) + fmt::format(" with ReLU and {}x{} max pooling", pg.kh, pg.kw); });
}

class BlockRecord : public ConvBlockRecord {
 public:
  const BlockPrimitives* primitives = nullptr;  // cached for the process's life
  dnnl::memory activation, workspace;  // ReLU's output in the convolution's layout; pooling's
};

}  // namespace

void conv2d_forward(float* y, const float* x, const float* w, const float* b,
                    const ConvGeometry& g) {
  const WeightPrimitives& p = weight_primitives(g, b != nullptr);
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, reorder_to(user_memory(p.d.src, x), p.forward.src_desc())},
      {DNNL_ARG_WEIGHTS, reorder_to(user_memory(p.d.weights, w), p.forward.weights_desc())}};
  if (b) args.emplace(DNNL_ARG_BIAS, user_memory(p.d.bias, b));
  execute_into(p.forward_prim, std::move(args), DNNL_ARG_DST, p.forward.dst_desc(),
               user_memory(p.d.dst, y));
}

void conv2d_backward(float* dx, float* dw, float* db, const float* dy, const float* x,
                     const float* w, const ConvGeometry& g) {
  // dy is reordered once when both passes read it in the same layout (they usually do).
  std::optional<dnnl::memory> dy_reordered;
  backward_passes(dx, dw, db, x, w, g, [&](const ConvDescs& d, const dnnl::memory::desc& want) {
    if (!dy_reordered || dy_reordered->get_desc() != want)
      dy_reordered = reorder_to(user_memory(d.dst, dy), want);
    return *dy_reordered;
  });
}

void conv2d_backward_data(float* dx, const float* dy, const float* w, const ConvGeometry& g) {
  conv2d_backward(dx, nullptr, nullptr, dy, nullptr, w, g);
}

void conv2d_backward_weights(float* dw, float* db, const float* dy, const float* x,
                             const ConvGeometry& g) {
  conv2d_backward(nullptr, dw, db, dy, x, nullptr, g);
}

std::shared_ptr<ConvBlockRecord> conv_relu_maxpool_forward(float* y, const float* x, const float* w,
                                                           const float* b, const ConvGeometry& g,
                                                           const PoolGeometry& pg) {
  const BlockPrimitives& p = block_primitives(g, pg, b != nullptr);
  auto record = std::make_shared<BlockRecord>();
  record->primitives = &p;
  record->activation = dnnl::memory(p.conv.dst_desc(), dnnl_engine());
  record->workspace = dnnl::memory(p.pool.workspace_desc(), dnnl_engine());
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, reorder_to(user_memory(p.d.src, x), p.conv.src_desc())},
      {DNNL_ARG_WEIGHTS, reorder_to(user_memory(p.d.weights, w), p.conv.weights_desc())},
      {DNNL_ARG_DST, record->activation}};
  if (b) args.emplace(DNNL_ARG_BIAS, user_memory(p.d.bias, b));
  p.conv_prim.execute(dnnl_stream(), args);
  execute_into(p.pool_prim,
               {{DNNL_ARG_SRC, record->activation}, {DNNL_ARG_WORKSPACE, record->workspace}},
               DNNL_ARG_DST, p.pool.dst_desc(), user_memory(p.pooled, y));
  return record;
}

void conv_relu_maxpool_backward(float* dx, float* dw, float* db, const float* dy, const float* x,
                                const float* w, const ConvBlockRecord& record,
                                const ConvGeometry& g) {
  const auto& r = static_cast<const BlockRecord&>(record);
  const BlockPrimitives& p = *r.primitives;
  auto& engine = dnnl_engine();
  // Through the pooling and the ReLU, staying in the convolution's layout.
  const dnnl::memory d_activation(p.conv.dst_desc(), engine), d_conv(p.conv.dst_desc(), engine);
  p.pool_backward_prim.execute(
      dnnl_stream(),
      {{DNNL_ARG_DIFF_DST, reorder_to(user_memory(p.pooled, dy), p.pool_backward.diff_dst_desc())},
       {DNNL_ARG_WORKSPACE, r.workspace},
       {DNNL_ARG_DIFF_SRC, d_activation}});
  p.relu_backward_prim.execute(dnnl_stream(), {{DNNL_ARG_DST, r.activation},
                                               {DNNL_ARG_DIFF_DST, d_activation},
                                               {DNNL_ARG_DIFF_SRC, d_conv}});
  // The convolution's own backward passes, reading d_conv in the layout each asks for.
  backward_passes(dx, dw, db, x, w, g, [&](const ConvDescs&, const dnnl::memory::desc& want) {
    return reorder_to(d_conv, want);
  });
}

}  // namespace tide
