// What the oneDNN RNN kernels (LSTM, GRU, vanilla RNN) share: the layouts of the caller's
// memory and the primitive pair built for one geometry (internal to kernels).
#pragma once

#include <unordered_map>

#include "tide/kernels/dnnl_context.hpp"
#include "tide/kernels/rnn.hpp"

namespace tide {

// Batch-first sequences are oneDNN's `ntc`, states `ldnc`, PyTorch's (G·H, I) weights
// `ldgoi` with G gates, and the bias `ldgo` with `bias_gates` rows. The weights are given
// to the primitives as `any` so they choose their layouts (reordered at the edge).
struct RnnLayouts {
  dnnl::memory::desc x, y, state, w_ih, w_hh, bias, w_ih_any, w_hh_any;
  RnnLayouts(const RnnGeometry& g, int64_t gates, int64_t bias_gates) {
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    const int64_t n = g.batch, t = g.steps, i = g.input, h = g.hidden;
    x = dnnl::memory::desc({t, n, i}, dt::f32, tag::ntc);
    y = dnnl::memory::desc({t, n, h}, dt::f32, tag::ntc);
    state = dnnl::memory::desc({1, 1, n, h}, dt::f32, tag::ldnc);
    w_ih = dnnl::memory::desc({1, 1, i, gates, h}, dt::f32, tag::ldgoi);
    w_hh = dnnl::memory::desc({1, 1, h, gates, h}, dt::f32, tag::ldgoi);
    bias = dnnl::memory::desc({1, 1, bias_gates, h}, dt::f32, tag::ldgo);
    w_ih_any = dnnl::memory::desc({1, 1, i, gates, h}, dt::f32, tag::any);
    w_hh_any = dnnl::memory::desc({1, 1, h, gates, h}, dt::f32, tag::any);
  }
};

// The forward (training) and backward primitives of one cell kind for one geometry.
template <class Forward, class Backward>
struct RnnPrimitives : RnnLayouts {
  typename Forward::primitive_desc forward;
  typename Backward::primitive_desc backward;
  Forward forward_prim;
  Backward backward_prim;
  RnnPrimitives(const RnnLayouts& layouts, typename Forward::primitive_desc f,
                typename Backward::primitive_desc b)
      : RnnLayouts(layouts),
        forward(std::move(f)),
        backward(std::move(b)),
        forward_prim(forward),
        backward_prim(backward) {}
};

// Runs p's backward primitive with `args` plus its weight and bias gradients, which oneDNN
// adds into (so they start zeroed, in its layouts), and writes those to dw_ih, dw_hh and
// dbias in the caller's layouts.
template <class Primitives>
void run_rnn_backward(const Primitives& p, std::unordered_map<int, dnnl::memory> args, float* dw_ih,
                      float* dw_hh, float* dbias) {
  const auto& pd = p.backward;
  const dnnl::memory dw_ih_m = zeroed_memory(pd.diff_weights_layer_desc());
  const dnnl::memory dw_hh_m = zeroed_memory(pd.diff_weights_iter_desc());
  const dnnl::memory dbias_m = zeroed_memory(pd.diff_bias_desc());
  args.insert({{DNNL_ARG_DIFF_WEIGHTS_LAYER, dw_ih_m},
               {DNNL_ARG_DIFF_WEIGHTS_ITER, dw_hh_m},
               {DNNL_ARG_DIFF_BIAS, dbias_m}});
  p.backward_prim.execute(dnnl_stream(), args);
  reorder_into(dw_ih_m, user_memory(p.w_ih, dw_ih));
  reorder_into(dw_hh_m, user_memory(p.w_hh, dw_hh));
  reorder_into(dbias_m, user_memory(p.bias, dbias));
  dnnl_stream().wait();
}

}  // namespace tide
