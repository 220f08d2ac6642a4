// What the oneDNN RNN kernels (LSTM, GRU, vanilla RNN) share: the layouts of the caller's
// memory and the primitive pair built for one geometry (internal to kernels).
#pragma once

#include <unordered_map>
#include <utility>
#include <vector>

#include "tide/kernels/dnnl_context.hpp"
#include "tide/kernels/rnn.hpp"

namespace tide {

// Batch-first sequences are oneDNN's `ntc`, states `ldnc`, PyTorch's (G·H, I) weights
// `ldgoi` with G gates, and the bias `ldgo` with `bias_gates` rows. The weights are given
// to the primitives as `any` so they choose their layouts (reordered at the edge).
// Under Precision::bf16 the primitives read and write sequences and hidden states as bf16
// (x_in, y_in, h_in) and weights as bf16, keeping the LSTM's cell state, the bias and every
// gradient f32 (`state`, `bias`, the `_out` weights); the caller's memory stays f32.
struct RnnLayouts {
  dnnl::memory::desc x, y, state, w_ih, w_hh, bias, w_ih_any, w_hh_any;
  dnnl::memory::desc x_in, y_in, h_in, w_ih_out, w_hh_out;
  RnnLayouts(const RnnGeometry& g, int64_t gates, int64_t bias_gates) {
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    const int64_t n = g.batch, t = g.steps, i = g.input, h = g.hidden;
    const dt in = g.compute == Precision::bf16 ? dt::bf16 : dt::f32;
    x = dnnl::memory::desc({t, n, i}, dt::f32, tag::ntc);
    y = dnnl::memory::desc({t, n, h}, dt::f32, tag::ntc);
    state = dnnl::memory::desc({1, 1, n, h}, dt::f32, tag::ldnc);
    w_ih = dnnl::memory::desc({1, 1, i, gates, h}, dt::f32, tag::ldgoi);
    w_hh = dnnl::memory::desc({1, 1, h, gates, h}, dt::f32, tag::ldgoi);
    bias = dnnl::memory::desc({1, 1, bias_gates, h}, dt::f32, tag::ldgo);
    w_ih_any = dnnl::memory::desc({1, 1, i, gates, h}, in, tag::any);
    w_hh_any = dnnl::memory::desc({1, 1, h, gates, h}, in, tag::any);
    x_in = dnnl::memory::desc({t, n, i}, in, tag::ntc);
    y_in = dnnl::memory::desc({t, n, h}, in, tag::ntc);
    h_in = dnnl::memory::desc({1, 1, n, h}, in, tag::ldnc);
    w_ih_out = dnnl::memory::desc({1, 1, i, gates, h}, dt::f32, tag::any);
    w_hh_out = dnnl::memory::desc({1, 1, h, gates, h}, dt::f32, tag::any);
  }
};

// The caller's f32 buffer p (layout `user`) as a primitive reads it (layout `in`): the
// buffer itself, or a copy rounded to bf16.
inline dnnl::memory read_as(const dnnl::memory::desc& user, const float* p,
                            const dnnl::memory::desc& in) {
  return reorder_to(user_memory(user, p), in);
}

// Memory for a primitive's outputs in the layouts it writes; finish() copies those that are
// not the caller's own buffers into them (bf16 to f32), after the primitive ran.
class RnnOutputs {
 public:
  dnnl::memory add(const dnnl::memory::desc& user, float* p, const dnnl::memory::desc& out) {
    dnnl::memory mine = user_memory(user, p);
    if (out == user) return mine;
    dnnl::memory written(out, dnnl_engine());
    copies_.emplace_back(written, mine);
    return written;
  }
  void finish() {
    for (auto& [from, to] : copies_) reorder_into(from, to);
  }

 private:
  std::vector<std::pair<dnnl::memory, dnnl::memory>> copies_;
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
