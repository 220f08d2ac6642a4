// oneDNN's lbr_gru: u = sigmoid(.), r = sigmoid(.), o = tanh(W_o x + b_o + r (U_o h + b_u')),
// h' = u h + (1 - u) o. That is PyTorch's GRU with z = u and n = o; oneDNN orders the gates
// (u, r, o) where PyTorch has (r, z, n), so the first two gate blocks swap at the edges, and
// its four biases are (b_iz + b_hz, b_ir + b_hr, b_in, b_hn).
#include <cstring>
#include <tuple>
#include <vector>

#include "tide/core/error.hpp"
#include "tide/kernels/rnn_dnnl.hpp"

namespace tide {
namespace {

using GruPrimitives = RnnPrimitives<dnnl::lbr_gru_forward, dnnl::lbr_gru_backward>;

class DnnlRnnWorkspace : public RnnWorkspace {
 public:
  DnnlRnnWorkspace(dnnl::memory m, std::vector<float> w_ih, std::vector<float> w_hh,
                   std::vector<float> bias)
      : memory(std::move(m)), w_ih(std::move(w_ih)), w_hh(std::move(w_hh)), bias(std::move(bias)) {}
  dnnl::memory memory;
  std::vector<float> w_ih, w_hh, bias;  // in oneDNN's gate order
};

GruPrimitives build(const RnnGeometry& g) {
  // The autocast table keeps GRU in f32 (oneDNN 2.6 has only its reference GRU in bf16);
  // the primitives below and their cache key are f32 only.
  TIDE_CHECK(g.compute == Precision::f32, "the GRU kernel computes in f32 only, not bf16");
  const RnnLayouts l(g, 3, 4);
  const auto dir = dnnl::rnn_direction::unidirectional_left2right;
  auto& engine = dnnl_engine();
  dnnl::lbr_gru_forward::primitive_desc f(
      dnnl::lbr_gru_forward::desc(dnnl::prop_kind::forward_training, dir, l.x, l.state, l.w_ih_any,
                                  l.w_hh_any, l.bias, l.y, l.state),
      engine);
  dnnl::lbr_gru_backward::primitive_desc b(
      dnnl::lbr_gru_backward::desc(dnnl::prop_kind::backward, dir, l.x, l.state, l.w_ih_any,
                                   l.w_hh_any, l.bias, l.y, l.state, l.x, l.state, l.w_ih_any,
                                   l.w_hh_any, l.bias, l.y, l.state),
      engine, f);
  return GruPrimitives(l, f, b);
}

const GruPrimitives& primitives(const RnnGeometry& g) {
  return cached_primitives(
      std::tuple(g.batch, g.steps, g.input, g.hidden), [&] { return build(g); },
      [&] {
        return fmt::format("GRU for batch {}, {} steps, input {}, hidden {}", g.batch, g.steps,
                           g.input, g.hidden);
      });
}

// (3H, cols) with gates (a, b, c) -> (b, a, c): PyTorch's (r, z, n) <-> oneDNN's (u, r, o).
std::vector<float> swap_first_gates(const float* w, int64_t h, int64_t cols) {
  const size_t block = static_cast<size_t>(h * cols);
  std::vector<float> out(3 * block);
  std::memcpy(out.data(), w + block, block * sizeof(float));
  std::memcpy(out.data() + block, w, block * sizeof(float));
  std::memcpy(out.data() + 2 * block, w + 2 * block, block * sizeof(float));
  return out;
}

}  // namespace

std::shared_ptr<RnnWorkspace> gru_forward(float* y, float* h_t, const float* x, const float* h0,
                                          const float* w_ih, const float* w_hh, const float* b_ih,
                                          const float* b_hh, const RnnGeometry& g) {
  const GruPrimitives& p = primitives(g);
  const int64_t h = g.hidden;
  std::vector<float> bias(static_cast<size_t>(4 * h));
  for (int64_t j = 0; j < h; ++j) {
    bias[j] = b_ih[h + j] + b_hh[h + j];  // u: PyTorch's z gate
    bias[h + j] = b_ih[j] + b_hh[j];      // r
    bias[2 * h + j] = b_ih[2 * h + j];    // o: the input part of n
    bias[3 * h + j] = b_hh[2 * h + j];    // u': the hidden part of n, inside r * (...)
  }
  auto ws = std::make_shared<DnnlRnnWorkspace>(
      dnnl::memory(p.forward.workspace_desc(), dnnl_engine()), swap_first_gates(w_ih, h, g.input),
      swap_first_gates(w_hh, h, h), std::move(bias));
  const auto& pd = p.forward;
  p.forward_prim.execute(
      dnnl_stream(), {{DNNL_ARG_SRC_LAYER, user_memory(p.x, x)},
                      {DNNL_ARG_SRC_ITER, user_memory(p.state, h0)},
                      {DNNL_ARG_WEIGHTS_LAYER,
                       reorder_to(user_memory(p.w_ih, ws->w_ih.data()), pd.weights_layer_desc())},
                      {DNNL_ARG_WEIGHTS_ITER,
                       reorder_to(user_memory(p.w_hh, ws->w_hh.data()), pd.weights_iter_desc())},
                      {DNNL_ARG_BIAS, user_memory(p.bias, ws->bias.data())},
                      {DNNL_ARG_DST_LAYER, user_memory(p.y, y)},
                      {DNNL_ARG_DST_ITER, user_memory(p.state, h_t)},
                      {DNNL_ARG_WORKSPACE, ws->memory}});
  dnnl_stream().wait();
  return ws;
}

void gru_backward(float* dx, float* dh0, float* dw_ih, float* dw_hh, float* db_ih, float* db_hh,
                  const float* dy, const float* dh_t, const float* x, const float* h0,
                  const float* y, const float* h_t, const RnnWorkspace& workspace,
                  const RnnGeometry& g) {
  const GruPrimitives& p = primitives(g);
  const auto& ws = static_cast<const DnnlRnnWorkspace&>(workspace);
  const auto& pd = p.backward;
  const int64_t h = g.hidden;
  std::vector<float> wi(static_cast<size_t>(3 * h * g.input)), wh(static_cast<size_t>(3 * h * h)),
      bias(static_cast<size_t>(4 * h));
  run_rnn_backward(p,
                   {{DNNL_ARG_SRC_LAYER, user_memory(p.x, x)},
                    {DNNL_ARG_SRC_ITER, user_memory(p.state, h0)},
                    {DNNL_ARG_WEIGHTS_LAYER,
                     reorder_to(user_memory(p.w_ih, ws.w_ih.data()), pd.weights_layer_desc())},
                    {DNNL_ARG_WEIGHTS_ITER,
                     reorder_to(user_memory(p.w_hh, ws.w_hh.data()), pd.weights_iter_desc())},
                    {DNNL_ARG_BIAS, user_memory(p.bias, ws.bias.data())},
                    {DNNL_ARG_DST_LAYER, user_memory(p.y, y)},
                    {DNNL_ARG_DST_ITER, user_memory(p.state, h_t)},
                    {DNNL_ARG_DIFF_DST_LAYER, user_memory(p.y, dy)},
                    {DNNL_ARG_DIFF_DST_ITER, user_memory(p.state, dh_t)},
                    {DNNL_ARG_WORKSPACE, ws.memory},
                    {DNNL_ARG_DIFF_SRC_LAYER, user_memory(p.x, dx)},
                    {DNNL_ARG_DIFF_SRC_ITER, user_memory(p.state, dh0)}},
                   wi.data(), wh.data(), bias.data());
  const auto wi_torch = swap_first_gates(wi.data(), h, g.input);
  const auto wh_torch = swap_first_gates(wh.data(), h, h);
  std::memcpy(dw_ih, wi_torch.data(), wi_torch.size() * sizeof(float));
  std::memcpy(dw_hh, wh_torch.data(), wh_torch.size() * sizeof(float));
  for (int64_t j = 0; j < h; ++j) {
    db_ih[j] = db_hh[j] = bias[h + j];      // r
    db_ih[h + j] = db_hh[h + j] = bias[j];  // z
    db_ih[2 * h + j] = bias[2 * h + j];     // n, input part
    db_hh[2 * h + j] = bias[3 * h + j];     // n, hidden part
  }
}

}  // namespace tide
