// oneDNN's vanilla RNN primitive: h' = act(W_ih x + W_hh h + b), act tanh or ReLU, with
// PyTorch's two biases summed into oneDNN's one. Weights (H, I) and (H, H) are `ldgoi` with
// one gate, as for the LSTM. Primitives are built once per geometry and activation.
#include <tuple>
#include <unordered_map>
#include <vector>

#include "tide/core/options.hpp"
#include "tide/kernels/rnn_dnnl.hpp"

namespace tide {
namespace {

using VanillaPrimitives = RnnPrimitives<dnnl::vanilla_rnn_forward, dnnl::vanilla_rnn_backward>;

class VanillaWorkspace : public RnnWorkspace {
 public:
  VanillaWorkspace(dnnl::memory m, std::vector<float> b)
      : memory(std::move(m)), bias(std::move(b)) {}
  dnnl::memory memory;
  std::vector<float> bias;  // b_ih + b_hh
};

VanillaPrimitives build(const RnnGeometry& g, bool relu) {
  const RnnLayouts l(g, 1, 1);
  const auto act = relu ? dnnl::algorithm::eltwise_relu : dnnl::algorithm::eltwise_tanh;
  const auto dir = dnnl::rnn_direction::unidirectional_left2right;
  auto& engine = dnnl_engine();
  using fwd_t = dnnl::vanilla_rnn_forward;
  using bwd_t = dnnl::vanilla_rnn_backward;
  fwd_t::primitive_desc f(fwd_t::desc(dnnl::prop_kind::forward_training, act, dir, l.x_in, l.h_in,
                                      l.w_ih_any, l.w_hh_any, l.bias, l.y_in, l.h_in),
                          engine);
  bwd_t::primitive_desc b(bwd_t::desc(dnnl::prop_kind::backward, act, dir, l.x_in, l.h_in,
                                      l.w_ih_any, l.w_hh_any, l.bias, l.y_in, l.h_in, l.x, l.state,
                                      l.w_ih_out, l.w_hh_out, l.bias, l.y, l.state),
                          engine, f);
  return VanillaPrimitives(l, f, b);
}

const VanillaPrimitives& primitives(const RnnGeometry& g, bool relu) {
  return cached_primitives(
      std::tuple(g.batch, g.steps, g.input, g.hidden, relu, g.compute),
      [&] { return build(g, relu); },
      [&] {
        return fmt::format("{} {} RNN for batch {}, {} steps, input {}, hidden {}",
                           name_of(g.compute), relu ? "ReLU" : "tanh", g.batch, g.steps, g.input,
                           g.hidden);
      });
}

// The arguments that the forward and backward passes share.
template <class PrimitiveDesc>
std::unordered_map<int, dnnl::memory> pass_args(const VanillaPrimitives& p, const PrimitiveDesc& pd,
                                                const float* x, const float* h0, const float* w_ih,
                                                const float* w_hh, const VanillaWorkspace& ws,
                                                const float* y, const float* h_t,
                                                RnnOutputs* outputs) {
  auto out = [&](const dnnl::memory::desc& user, const float* q, const dnnl::memory::desc& in) {
    return outputs ? outputs->add(user, const_cast<float*>(q), in) : read_as(user, q, in);
  };
  return {{DNNL_ARG_SRC_LAYER, read_as(p.x, x, p.x_in)},
          {DNNL_ARG_SRC_ITER, read_as(p.state, h0, p.h_in)},
          {DNNL_ARG_WEIGHTS_LAYER, reorder_to(user_memory(p.w_ih, w_ih), pd.weights_layer_desc())},
          {DNNL_ARG_WEIGHTS_ITER, reorder_to(user_memory(p.w_hh, w_hh), pd.weights_iter_desc())},
          {DNNL_ARG_BIAS, user_memory(p.bias, ws.bias.data())},
          {DNNL_ARG_DST_LAYER, out(p.y, y, p.y_in)},
          {DNNL_ARG_DST_ITER, out(p.state, h_t, p.h_in)},
          {DNNL_ARG_WORKSPACE, ws.memory}};
}

}  // namespace

std::shared_ptr<RnnWorkspace> vanilla_rnn_forward(float* y, float* h_t, const float* x,
                                                  const float* h0, const float* w_ih,
                                                  const float* w_hh, const float* b_ih,
                                                  const float* b_hh, bool relu,
                                                  const RnnGeometry& g) {
  const VanillaPrimitives& p = primitives(g, relu);
  std::vector<float> bias(static_cast<size_t>(g.hidden));
  for (int64_t j = 0; j < g.hidden; ++j) bias[j] = b_ih[j] + b_hh[j];
  auto ws = std::make_shared<VanillaWorkspace>(
      dnnl::memory(p.forward.workspace_desc(), dnnl_engine()), std::move(bias));
  RnnOutputs outputs;
  p.forward_prim.execute(dnnl_stream(),
                         pass_args(p, p.forward, x, h0, w_ih, w_hh, *ws, y, h_t, &outputs));
  outputs.finish();
  dnnl_stream().wait();
  return ws;
}

void vanilla_rnn_backward(float* dx, float* dh0, float* dw_ih, float* dw_hh, float* db_ih,
                          float* db_hh, const float* dy, const float* dh_t, const float* x,
                          const float* h0, const float* w_ih, const float* w_hh, const float* y,
                          const float* h_t, const RnnWorkspace& workspace, bool relu,
                          const RnnGeometry& g) {
  const VanillaPrimitives& p = primitives(g, relu);
  const auto& pd = p.backward;
  auto args = pass_args(p, pd, x, h0, w_ih, w_hh, static_cast<const VanillaWorkspace&>(workspace),
                        y, h_t, nullptr);
  args.insert({{DNNL_ARG_DIFF_DST_LAYER, user_memory(p.y, dy)},
               {DNNL_ARG_DIFF_DST_ITER, user_memory(p.state, dh_t)},
               {DNNL_ARG_DIFF_SRC_LAYER, user_memory(p.x, dx)},
               {DNNL_ARG_DIFF_SRC_ITER, user_memory(p.state, dh0)}});
  run_rnn_backward(p, std::move(args), dw_ih, dw_hh, db_ih);
  for (int64_t j = 0; j < g.hidden; ++j) db_hh[j] = db_ih[j];  // both biases enter as a sum
}

}  // namespace tide
