#include "tide/autograd/ops_rnn.hpp"

#include <cstring>

#include "tide/autograd/autocast.hpp"
#include "tide/autograd/tensor_math.hpp"
#include "tide/kernels/copy.hpp"
#include "tide/kernels/rnn.hpp"

namespace tide {
namespace {

// Copies (N, rows, H) blocks between a tensor and rows [at, at + rows) of the packed
// (N, T + 2, H) result; `into_packed` chooses the direction.
void pack(const Tensor& packed, const Tensor& part, int64_t at, bool into_packed) {
  const int64_t n = packed.dim(0), total = packed.dim(1), h = packed.dim(2);
  const int64_t rows = part.numel() / (n * h);
  float* pp = packed.data<float>() + at * h;
  float* qp = part.data<float>();
  if (into_packed)
    copy_blocks(pp, qp, n, rows * h, total * h, rows * h);
  else
    copy_blocks(qp, pp, n, rows * h, rows * h, total * h);
}

}  // namespace

Variable lstm_sequence(const Variable& x, const Variable& h0, const Variable& c0,
                       const Variable& w_ih, const Variable& w_hh, const Variable& b_ih,
                       const Variable& b_hh) {
  TIDE_CHECK(x.value().ndim() == 3 && x.dtype() == DType::f32,
             "lstm_sequence: expected f32 input (N, T, I), got {}", x.value().str());
  RnnGeometry g{.batch = x.dim(0),
                .steps = x.dim(1),
                .input = x.dim(2),
                .hidden = w_hh.dim(1),
                .compute = precision_of(CastOp::lstm)};
  const int64_t h = g.hidden;
  TIDE_CHECK(w_ih.shape() == Shape({4 * h, g.input}) && w_hh.shape() == Shape({4 * h, h}) &&
                 h0.shape() == Shape({g.batch, h}) && c0.shape() == Shape({g.batch, h}),
             "lstm_sequence: weights {} and {} or states {} and {} do not fit input {}",
             w_ih.value().str(), w_hh.value().str(), h0.value().str(), c0.value().str(),
             x.value().str());
  const bool has_bias = b_ih.defined();
  const Tensor bias =
      has_bias ? binary_tensor(b_ih.value(), b_hh.value(), BinaryOp::add) : Tensor::zeros({4 * h});
  const Tensor y = Tensor::empty({g.batch, g.steps, h}), h_t = Tensor::empty({g.batch, h}),
               c_t = Tensor::empty({g.batch, h});
  const Tensor xv = x.value(), h0v = h0.value(), c0v = c0.value(), wi = w_ih.value(),
               wh = w_hh.value();
  std::shared_ptr<RnnWorkspace> ws = lstm_forward(
      y.data<float>(), h_t.data<float>(), c_t.data<float>(), xv.data<float>(), h0v.data<float>(),
      c0v.data<float>(), wi.data<float>(), wh.data<float>(), bias.data<float>(), g);
  Tensor packed = Tensor::empty({g.batch, g.steps + 2, h});
  pack(packed, y, 0, true);
  pack(packed, h_t, g.steps, true);
  pack(packed, c_t, g.steps + 1, true);

  std::vector<Variable> inputs{x, h0, c0, w_ih, w_hh};
  if (has_bias) inputs.insert(inputs.end(), {b_ih, b_hh});
  return make_result(
      packed, std::move(inputs),
      [=](const Tensor& dpacked, std::vector<Variable>& in) {
        const Tensor dy = Tensor::empty(y.shape()), dh_t = Tensor::empty(h_t.shape()),
                     dc_t = Tensor::empty(c_t.shape());
        pack(dpacked, dy, 0, false);
        pack(dpacked, dh_t, g.steps, false);
        pack(dpacked, dc_t, g.steps + 1, false);
        Tensor dx = Tensor::empty(xv.shape()), dh0 = Tensor::empty(h0v.shape()),
               dc0 = Tensor::empty(c0v.shape()), dwi = Tensor::empty(wi.shape()),
               dwh = Tensor::empty(wh.shape()), dbias = Tensor::empty(bias.shape());
        lstm_backward(dx.data<float>(), dh0.data<float>(), dc0.data<float>(), dwi.data<float>(),
                      dwh.data<float>(), dbias.data<float>(), dy.data<float>(), dh_t.data<float>(),
                      dc_t.data<float>(), xv.data<float>(), h0v.data<float>(), c0v.data<float>(),
                      wi.data<float>(), wh.data<float>(), bias.data<float>(), y.data<float>(),
                      h_t.data<float>(), c_t.data<float>(), *ws, g);
        const Tensor grads[] = {dx, dh0, dc0, dwi, dwh, dbias, dbias};
        for (size_t i = 0; i < in.size(); ++i)
          if (in[i].requires_grad()) in[i].accumulate_grad(i == 6 ? dbias.clone() : grads[i]);
      },
      "lstm_sequence");
}

namespace {

// The layers whose only state is h: one body for the GRU and the vanilla RNN, which differ
// in their gate count and their oneDNN kernel.
enum class OneState { gru, rnn_tanh, rnn_relu };

const char* name_of(OneState kind) {
  return kind == OneState::gru ? "gru_sequence" : "rnn_sequence";
}

Variable one_state_sequence(OneState kind, const Variable& x, const Variable& h0,
                            const Variable& w_ih, const Variable& w_hh, const Variable& b_ih,
                            const Variable& b_hh) {
  TIDE_CHECK(x.value().ndim() == 3 && x.dtype() == DType::f32,
             "{}: expected f32 input (N, T, I), got {}", name_of(kind), x.value().str());
  const bool gru = kind == OneState::gru, relu = kind == OneState::rnn_relu;
  RnnGeometry g{.batch = x.dim(0),
                .steps = x.dim(1),
                .input = x.dim(2),
                .hidden = w_hh.dim(1),
                .compute = precision_of(gru ? CastOp::gru : CastOp::rnn)};
  const int64_t h = g.hidden, gh = (gru ? 3 : 1) * h;
  TIDE_CHECK(w_ih.shape() == Shape({gh, g.input}) && w_hh.shape() == Shape({gh, h}) &&
                 h0.shape() == Shape({g.batch, h}),
             "{}: weights {} and {} or state {} do not fit input {}", name_of(kind),
             w_ih.value().str(), w_hh.value().str(), h0.value().str(), x.value().str());
  const bool has_bias = b_ih.defined();
  const Tensor bi = has_bias ? b_ih.value() : Tensor::zeros({gh}),
               bh = has_bias ? b_hh.value() : Tensor::zeros({gh});
  const Tensor y = Tensor::empty({g.batch, g.steps, h}), h_t = Tensor::empty({g.batch, h});
  const Tensor xv = x.value(), h0v = h0.value(), wi = w_ih.value(), wh = w_hh.value();
  float *yp = y.data<float>(), *htp = h_t.data<float>();
  const float *xp = xv.data<float>(), *h0p = h0v.data<float>(), *wip = wi.data<float>(),
              *whp = wh.data<float>();
  std::shared_ptr<RnnWorkspace> ws =
      gru ? gru_forward(yp, htp, xp, h0p, wip, whp, bi.data<float>(), bh.data<float>(), g)
          : vanilla_rnn_forward(yp, htp, xp, h0p, wip, whp, bi.data<float>(), bh.data<float>(),
                                relu, g);
  Tensor packed = Tensor::empty({g.batch, g.steps + 1, h});
  pack(packed, y, 0, true);
  pack(packed, h_t, g.steps, true);

  std::vector<Variable> inputs{x, h0, w_ih, w_hh};
  if (has_bias) inputs.insert(inputs.end(), {b_ih, b_hh});
  return make_result(
      packed, std::move(inputs),
      [=](const Tensor& dpacked, std::vector<Variable>& in) {
        const Tensor dy = Tensor::empty(y.shape()), dh_t = Tensor::empty(h_t.shape());
        pack(dpacked, dy, 0, false);
        pack(dpacked, dh_t, g.steps, false);
        Tensor dx = Tensor::empty(xv.shape()), dh0 = Tensor::empty(h0v.shape()),
               dwi = Tensor::empty(wi.shape()), dwh = Tensor::empty(wh.shape()),
               dbi = Tensor::empty(bi.shape()), dbh = Tensor::empty(bh.shape());
        if (gru)
          gru_backward(dx.data<float>(), dh0.data<float>(), dwi.data<float>(), dwh.data<float>(),
                       dbi.data<float>(), dbh.data<float>(), dy.data<float>(), dh_t.data<float>(),
                       xv.data<float>(), h0v.data<float>(), y.data<float>(), h_t.data<float>(), *ws,
                       g);
        else
          vanilla_rnn_backward(dx.data<float>(), dh0.data<float>(), dwi.data<float>(),
                               dwh.data<float>(), dbi.data<float>(), dbh.data<float>(),
                               dy.data<float>(), dh_t.data<float>(), xv.data<float>(),
                               h0v.data<float>(), wi.data<float>(), wh.data<float>(),
                               y.data<float>(), h_t.data<float>(), *ws, relu, g);
        const Tensor grads[] = {dx, dh0, dwi, dwh, dbi, dbh};
        for (size_t i = 0; i < in.size(); ++i)
          if (in[i].requires_grad()) in[i].accumulate_grad(grads[i]);
      },
      name_of(kind));
}

}  // namespace

Variable gru_sequence(const Variable& x, const Variable& h0, const Variable& w_ih,
                      const Variable& w_hh, const Variable& b_ih, const Variable& b_hh) {
  return one_state_sequence(OneState::gru, x, h0, w_ih, w_hh, b_ih, b_hh);
}

Variable rnn_sequence(const Variable& x, const Variable& h0, const Variable& w_ih,
                      const Variable& w_hh, const Variable& b_ih, const Variable& b_hh, bool relu) {
  return one_state_sequence(relu ? OneState::rnn_relu : OneState::rnn_tanh, x, h0, w_ih, w_hh, b_ih,
                            b_hh);
}

}  // namespace tide
