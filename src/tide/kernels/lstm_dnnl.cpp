// oneDNN's LSTM primitive. PyTorch's (4H, I) weight matrices are oneDNN's `ldgoi` layout and
// batch-first sequences its `ntc`, so the user memory is wrapped as it is and reordered to
// the layouts the primitives choose. Primitives are built once per geometry.
#include <tuple>
#include <unordered_map>

#include "tide/core/error.hpp"
#include "tide/core/options.hpp"
#include "tide/kernels/rnn_dnnl.hpp"

namespace tide {
namespace {

using LstmPrimitives = RnnPrimitives<dnnl::lstm_forward, dnnl::lstm_backward>;

class DnnlWorkspace : public RnnWorkspace {
 public:
  explicit DnnlWorkspace(dnnl::memory m) : memory(std::move(m)) {}
  dnnl::memory memory;
};

LstmPrimitives build(const RnnGeometry& g) {
  const RnnLayouts l(g, 4, 4);
  const auto dir = dnnl::rnn_direction::unidirectional_left2right;
  auto& engine = dnnl_engine();
  dnnl::lstm_forward::primitive_desc f(
      dnnl::lstm_forward::desc(dnnl::prop_kind::forward_training, dir, l.x_in, l.h_in, l.state,
                               l.w_ih_any, l.w_hh_any, l.bias, l.y_in, l.h_in, l.state),
      engine);
  dnnl::lstm_backward::primitive_desc b(
      dnnl::lstm_backward::desc(dnnl::prop_kind::backward, dir, l.x_in, l.h_in, l.state, l.w_ih_any,
                                l.w_hh_any, l.bias, l.y_in, l.h_in, l.state, l.x, l.state, l.state,
                                l.w_ih_out, l.w_hh_out, l.bias, l.y, l.state, l.state),
      engine, f);
  return LstmPrimitives(l, f, b);
}

const LstmPrimitives& primitives(const RnnGeometry& g) {
  return cached_primitives(
      std::tuple(g.batch, g.steps, g.input, g.hidden, g.compute), [&] { return build(g); },
      [&] {
        return fmt::format("{} LSTM for batch {}, {} steps, input {}, hidden {}",
                           name_of(g.compute), g.batch, g.steps, g.input, g.hidden);
      });
}

// The arguments that the forward and backward passes share: the inputs (x, h0, c0), the
// weights in the layouts `pd` chose, the bias, and the outputs (y, h_t, c_t), which the
// forward pass writes through `outputs` and the backward pass reads.
struct PassData {
  const float *x, *h0, *c0, *w_ih, *w_hh, *bias, *y, *h_t, *c_t;
};
template <class PrimitiveDesc>
std::unordered_map<int, dnnl::memory> pass_args(const LstmPrimitives& p, const PrimitiveDesc& pd,
                                                const PassData& d, RnnOutputs* outputs) {
  auto out = [&](const dnnl::memory::desc& user, const float* q, const dnnl::memory::desc& in) {
    return outputs ? outputs->add(user, const_cast<float*>(q), in) : read_as(user, q, in);
  };
  return {
      {DNNL_ARG_SRC_LAYER, read_as(p.x, d.x, p.x_in)},
      {DNNL_ARG_SRC_ITER, read_as(p.state, d.h0, p.h_in)},
      {DNNL_ARG_SRC_ITER_C, user_memory(p.state, d.c0)},
      {DNNL_ARG_WEIGHTS_LAYER, reorder_to(user_memory(p.w_ih, d.w_ih), pd.weights_layer_desc())},
      {DNNL_ARG_WEIGHTS_ITER, reorder_to(user_memory(p.w_hh, d.w_hh), pd.weights_iter_desc())},
      {DNNL_ARG_BIAS, user_memory(p.bias, d.bias)},
      {DNNL_ARG_DST_LAYER, out(p.y, d.y, p.y_in)},
      {DNNL_ARG_DST_ITER, out(p.state, d.h_t, p.h_in)},
      {DNNL_ARG_DST_ITER_C, user_memory(p.state, d.c_t)}};
}

}  // namespace

std::shared_ptr<RnnWorkspace> lstm_forward(float* y, float* h_t, float* c_t, const float* x,
                                           const float* h0, const float* c0, const float* w_ih,
                                           const float* w_hh, const float* bias,
                                           const RnnGeometry& g) {
  const LstmPrimitives& p = primitives(g);
  const auto& pd = p.forward;
  auto workspace =
      std::make_shared<DnnlWorkspace>(dnnl::memory(pd.workspace_desc(), dnnl_engine()));
  RnnOutputs outputs;
  auto args = pass_args(p, pd, {x, h0, c0, w_ih, w_hh, bias, y, h_t, c_t}, &outputs);
  args.emplace(DNNL_ARG_WORKSPACE, workspace->memory);
  p.forward_prim.execute(dnnl_stream(), args);
  outputs.finish();
  dnnl_stream().wait();
  return workspace;
}

void lstm_backward(float* dx, float* dh0, float* dc0, float* dw_ih, float* dw_hh, float* dbias,
                   const float* dy, const float* dh_t, const float* dc_t, const float* x,
                   const float* h0, const float* c0, const float* w_ih, const float* w_hh,
                   const float* bias, const float* y, const float* h_t, const float* c_t,
                   const RnnWorkspace& workspace, const RnnGeometry& g) {
  const LstmPrimitives& p = primitives(g);
  const auto& pd = p.backward;
  auto args = pass_args(p, pd, {x, h0, c0, w_ih, w_hh, bias, y, h_t, c_t}, nullptr);
  args.insert({{DNNL_ARG_DIFF_DST_LAYER, user_memory(p.y, dy)},
               {DNNL_ARG_DIFF_DST_ITER, user_memory(p.state, dh_t)},
               {DNNL_ARG_DIFF_DST_ITER_C, user_memory(p.state, dc_t)},
               {DNNL_ARG_WORKSPACE, static_cast<const DnnlWorkspace&>(workspace).memory},
               {DNNL_ARG_DIFF_SRC_LAYER, user_memory(p.x, dx)},
               {DNNL_ARG_DIFF_SRC_ITER, user_memory(p.state, dh0)},
               {DNNL_ARG_DIFF_SRC_ITER_C, user_memory(p.state, dc0)}});
  run_rnn_backward(p, std::move(args), dw_ih, dw_hh, dbias);
}

}  // namespace tide
