// oneDNN's lbr_gru: u = sigmoid(.), r = sigmoid(.), o = tanh(W_o x + b_o + r (U_o h + b_u')),
// h' = u h + (1 - u) o. That is PyTorch's GRU with z = u and n = o; oneDNN orders the gates
// (u, r, o) where PyTorch has (r, z, n), so the first two gate blocks swap at the edges, and
// its four biases are (b_iz + b_hz, b_ir + b_hr, b_in, b_hn).
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "tide/core/error.hpp"
#include "tide/kernels/dnnl_context.hpp"
#include "tide/kernels/gru.hpp"

namespace tide {
namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

struct GruPrimitives {
  dnnl::memory::desc x, y, state, w_ih, w_hh, bias;
  dnnl::lbr_gru_forward::primitive_desc forward;
  dnnl::lbr_gru_backward::primitive_desc backward;
  dnnl::lbr_gru_forward forward_prim;
  dnnl::lbr_gru_backward backward_prim;
};

class DnnlGruWorkspace : public GruWorkspace {
 public:
  DnnlGruWorkspace(dnnl::memory m, std::vector<float> w_ih, std::vector<float> w_hh,
                   std::vector<float> bias)
      : memory(std::move(m)), w_ih(std::move(w_ih)), w_hh(std::move(w_hh)), bias(std::move(bias)) {}
  dnnl::memory memory;
  std::vector<float> w_ih, w_hh, bias;  // in oneDNN's gate order
};

GruPrimitives build(const GruGeometry& g) {
  const int64_t n = g.batch, t = g.steps, i = g.input, h = g.hidden;
  GruPrimitives p;
  p.x = dnnl::memory::desc({t, n, i}, dt::f32, tag::ntc);
  p.y = dnnl::memory::desc({t, n, h}, dt::f32, tag::ntc);
  p.state = dnnl::memory::desc({1, 1, n, h}, dt::f32, tag::ldnc);
  p.w_ih = dnnl::memory::desc({1, 1, i, 3, h}, dt::f32, tag::ldgoi);
  p.w_hh = dnnl::memory::desc({1, 1, h, 3, h}, dt::f32, tag::ldgoi);
  p.bias = dnnl::memory::desc({1, 1, 4, h}, dt::f32, tag::ldgo);
  const dnnl::memory::desc w_ih_any({1, 1, i, 3, h}, dt::f32, tag::any),
      w_hh_any({1, 1, h, 3, h}, dt::f32, tag::any);
  const auto dir = dnnl::rnn_direction::unidirectional_left2right;
  auto& engine = dnnl_engine();
  p.forward = dnnl::lbr_gru_forward::primitive_desc(
      dnnl::lbr_gru_forward::desc(dnnl::prop_kind::forward_training, dir, p.x, p.state, w_ih_any,
                                  w_hh_any, p.bias, p.y, p.state),
      engine);
  p.backward = dnnl::lbr_gru_backward::primitive_desc(
      dnnl::lbr_gru_backward::desc(dnnl::prop_kind::backward, dir, p.x, p.state, w_ih_any, w_hh_any,
                                   p.bias, p.y, p.state, p.x, p.state, w_ih_any, w_hh_any, p.bias,
                                   p.y, p.state),
      engine, p.forward);
  p.forward_prim = dnnl::lbr_gru_forward(p.forward);
  p.backward_prim = dnnl::lbr_gru_backward(p.backward);
  return p;
}

const GruPrimitives& primitives(const GruGeometry& g) {
  static std::mutex mutex;
  static auto* cache = new std::map<std::tuple<int64_t, int64_t, int64_t, int64_t>, GruPrimitives>;
  const auto key = std::tuple(g.batch, g.steps, g.input, g.hidden);
  std::lock_guard lock(mutex);
  auto it = cache->find(key);
  if (it == cache->end()) {
    try {
      it = cache->emplace(key, build(g)).first;
    } catch (const dnnl::error& e) {
      TIDE_FAIL("oneDNN has no GRU for batch {}, {} steps, input {}, hidden {}: {}", g.batch,
                g.steps, g.input, g.hidden, e.what());
    }
  }
  return it->second;
}

dnnl::memory user(const dnnl::memory::desc& d, const float* p) {
  return dnnl::memory(d, dnnl_engine(), const_cast<float*>(p));
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

dnnl::memory zeroed(const dnnl::memory::desc& d) {
  dnnl::memory m(d, dnnl_engine());
  std::memset(m.get_data_handle(), 0, d.get_size());
  return m;
}

}  // namespace

std::shared_ptr<GruWorkspace> gru_forward(float* y, float* h_t, const float* x, const float* h0,
                                          const float* w_ih, const float* w_hh, const float* b_ih,
                                          const float* b_hh, const GruGeometry& g) {
  const GruPrimitives& p = primitives(g);
  const int64_t h = g.hidden;
  std::vector<float> bias(static_cast<size_t>(4 * h));
  for (int64_t j = 0; j < h; ++j) {
    bias[j] = b_ih[h + j] + b_hh[h + j];  // u: PyTorch's z gate
    bias[h + j] = b_ih[j] + b_hh[j];      // r
    bias[2 * h + j] = b_ih[2 * h + j];    // o: the input part of n
    bias[3 * h + j] = b_hh[2 * h + j];    // u': the hidden part of n, inside r * (...)
  }
  auto ws = std::make_shared<DnnlGruWorkspace>(
      dnnl::memory(p.forward.workspace_desc(), dnnl_engine()), swap_first_gates(w_ih, h, g.input),
      swap_first_gates(w_hh, h, h), std::move(bias));
  const auto& pd = p.forward;
  p.forward_prim.execute(
      dnnl_stream(),
      {{DNNL_ARG_SRC_LAYER, user(p.x, x)},
       {DNNL_ARG_SRC_ITER, user(p.state, h0)},
       {DNNL_ARG_WEIGHTS_LAYER, reorder_to(user(p.w_ih, ws->w_ih.data()), pd.weights_layer_desc())},
       {DNNL_ARG_WEIGHTS_ITER, reorder_to(user(p.w_hh, ws->w_hh.data()), pd.weights_iter_desc())},
       {DNNL_ARG_BIAS, user(p.bias, ws->bias.data())},
       {DNNL_ARG_DST_LAYER, user(p.y, y)},
       {DNNL_ARG_DST_ITER, user(p.state, h_t)},
       {DNNL_ARG_WORKSPACE, ws->memory}});
  dnnl_stream().wait();
  return ws;
}

void gru_backward(float* dx, float* dh0, float* dw_ih, float* dw_hh, float* db_ih, float* db_hh,
                  const float* dy, const float* dh_t, const float* x, const float* h0, const float*,
                  const float*, const float*, const float*, const float* y, const float* h_t,
                  const GruWorkspace& workspace, const GruGeometry& g) {
  const GruPrimitives& p = primitives(g);
  const auto& ws = static_cast<const DnnlGruWorkspace&>(workspace);
  const auto& pd = p.backward;
  const int64_t h = g.hidden;
  dnnl::memory dw_ih_m = zeroed(pd.diff_weights_layer_desc());
  dnnl::memory dw_hh_m = zeroed(pd.diff_weights_iter_desc());
  dnnl::memory dbias_m = zeroed(pd.diff_bias_desc());
  p.backward_prim.execute(
      dnnl_stream(),
      {{DNNL_ARG_SRC_LAYER, user(p.x, x)},
       {DNNL_ARG_SRC_ITER, user(p.state, h0)},
       {DNNL_ARG_WEIGHTS_LAYER, reorder_to(user(p.w_ih, ws.w_ih.data()), pd.weights_layer_desc())},
       {DNNL_ARG_WEIGHTS_ITER, reorder_to(user(p.w_hh, ws.w_hh.data()), pd.weights_iter_desc())},
       {DNNL_ARG_BIAS, user(p.bias, ws.bias.data())},
       {DNNL_ARG_DST_LAYER, user(p.y, y)},
       {DNNL_ARG_DST_ITER, user(p.state, h_t)},
       {DNNL_ARG_DIFF_DST_LAYER, user(p.y, dy)},
       {DNNL_ARG_DIFF_DST_ITER, user(p.state, dh_t)},
       {DNNL_ARG_WORKSPACE, ws.memory},
       {DNNL_ARG_DIFF_SRC_LAYER, user(p.x, dx)},
       {DNNL_ARG_DIFF_SRC_ITER, user(p.state, dh0)},
       {DNNL_ARG_DIFF_WEIGHTS_LAYER, dw_ih_m},
       {DNNL_ARG_DIFF_WEIGHTS_ITER, dw_hh_m},
       {DNNL_ARG_DIFF_BIAS, dbias_m}});
  std::vector<float> wi(static_cast<size_t>(3 * h * g.input)), wh(static_cast<size_t>(3 * h * h)),
      bias(static_cast<size_t>(4 * h));
  reorder_into(dw_ih_m, user(p.w_ih, wi.data()));
  reorder_into(dw_hh_m, user(p.w_hh, wh.data()));
  reorder_into(dbias_m, user(p.bias, bias.data()));
  dnnl_stream().wait();
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
