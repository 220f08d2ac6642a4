#include "tide/autograd/ops_matmul.hpp"

#include "tide/autograd/autocast.hpp"
#include "tide/autograd/dispatch.hpp"
#include "tide/kernels/elementwise.hpp"
#include "tide/kernels/gemm.hpp"
#include "tide/kernels/reduce.hpp"

namespace tide {

Variable matmul(const Variable& a, const Variable& b) {
  TIDE_CHECK(a.value().ndim() == 2 && b.value().ndim() == 2 && a.dim(1) == b.dim(0) &&
                 a.dtype() == b.dtype(),
             "matmul: expected (M,K) and (K,N) of one dtype, got {} and {}", a.value().str(),
             b.value().str());
  const int64_t m = a.dim(0), k = a.dim(1), n = b.dim(1);
  const Precision p = precision_of(CastOp::matmul);
  Tensor out = Tensor::empty({m, n}, a.dtype());
  dispatch_float(a.dtype(), "matmul", [&]<class T>(T) {
    gemm(out.data<T>(), a.value().data<T>(), b.value().data<T>(), false, false, m, n, k, T(1), T(0),
         nullptr, false, p);
  });
  Tensor av = a.value(), bv = b.value();
  return make_result(
      out, {a, b},
      [av, bv, m, n, k, p](const Tensor& dy, std::vector<Variable>& in) {
        dispatch_float(dy.dtype(), "matmul backward", [&]<class T>(T) {
          if (in[0].requires_grad()) {  // da (M,K) = dy (M,N) * b^T
            Tensor da = Tensor::empty({m, k}, dy.dtype());
            gemm(da.data<T>(), dy.data<T>(), bv.data<T>(), false, true, m, k, n, T(1), T(0),
                 nullptr, false, p);
            in[0].accumulate_grad(da);
          }
          if (in[1].requires_grad()) {  // db (K,N) = a^T * dy
            Tensor db = Tensor::empty({k, n}, dy.dtype());
            gemm(db.data<T>(), av.data<T>(), dy.data<T>(), true, false, k, n, m, T(1), T(0),
                 nullptr, false, p);
            in[1].accumulate_grad(db);
          }
        });
      },
      "matmul");
}

Variable bmm(const Variable& a, const Variable& b, bool ta, bool tb, double alpha) {
  const Tensor &av = a.value(), &bv = b.value();
  TIDE_CHECK(av.ndim() == 3 && bv.ndim() == 3 && av.dim(0) == bv.dim(0) &&
                 av.dim(ta ? 1 : 2) == bv.dim(tb ? 2 : 1) && av.dtype() == bv.dtype(),
             "bmm: {}{} and {}{} do not multiply", av.str(), ta ? "^T" : "", bv.str(),
             tb ? "^T" : "");
  const int64_t batch = av.dim(0), m = av.dim(ta ? 2 : 1), k = av.dim(ta ? 1 : 2),
                n = bv.dim(tb ? 1 : 2);
  const Precision p = precision_of(CastOp::bmm);
  Tensor out = Tensor::empty({batch, m, n}, av.dtype());
  dispatch_float(av.dtype(), "bmm", [&]<class T>(T) {
    gemm_batched(out.data<T>(), av.data<T>(), bv.data<T>(), ta, tb, batch, m, n, k, T(alpha), T(0),
                 p);
  });
  return make_result(
      out, {a, b},
      [av, bv, ta, tb, batch, m, n, k, alpha, p](const Tensor& dc, std::vector<Variable>& in) {
        dispatch_float(dc.dtype(), "bmm backward", [&]<class T>(T) {
          if (in[0].requires_grad()) {  // C = op(A) op(B): dop(A) = dC op(B)^T
            Tensor da = Tensor::empty(av.shape(), dc.dtype());
            if (!ta)
              gemm_batched(da.data<T>(), dc.data<T>(), bv.data<T>(), false, !tb, batch, m, k, n,
                           T(alpha), T(0), p);
            else  // dA (K, M) = op(B) dC^T
              gemm_batched(da.data<T>(), bv.data<T>(), dc.data<T>(), tb, true, batch, k, m, n,
                           T(alpha), T(0), p);
            in[0].accumulate_grad(da);
          }
          if (in[1].requires_grad()) {  // dop(B) = op(A)^T dC
            Tensor db = Tensor::empty(bv.shape(), dc.dtype());
            if (!tb)
              gemm_batched(db.data<T>(), av.data<T>(), dc.data<T>(), !ta, false, batch, k, n, m,
                           T(alpha), T(0), p);
            else  // dB (N, K) = dC^T op(A)
              gemm_batched(db.data<T>(), dc.data<T>(), av.data<T>(), true, ta, batch, n, k, m,
                           T(alpha), T(0), p);
            in[1].accumulate_grad(db);
          }
        });
      },
      "bmm");
}

namespace {

Variable linear_op(const Variable& x, const Variable& weight, const Variable& bias, bool relu) {
  const Tensor& w = weight.value();
  TIDE_CHECK(
      x.value().ndim() >= 1 && w.ndim() == 2 && x.shape()[-1] == w.dim(1) && x.dtype() == w.dtype(),
      "linear: input {} does not match weight {} (expected input (..., {}))", x.value().str(),
      w.str(), w.ndim() == 2 ? w.dim(1) : -1);
  const int64_t in_features = w.dim(1), out_features = w.dim(0);
  const int64_t rows = x.numel() / std::max<int64_t>(in_features, 1);
  const bool has_bias = bias.defined();
  if (has_bias)
    TIDE_CHECK(bias.shape() == Shape({out_features}) && bias.dtype() == w.dtype(),
               "linear: bias {} does not match weight {} (expected ({}))", bias.value().str(),
               w.str(), out_features);
  Shape out_shape = x.shape();
  out_shape[-1] = out_features;
  const Precision p = precision_of(CastOp::linear);
  Tensor out = Tensor::empty(out_shape, x.dtype());
  dispatch_float(x.dtype(), "linear", [&]<class T>(T) {
    gemm(out.data<T>(), x.value().data<T>(), w.data<T>(), false, true, rows, out_features,
         in_features, T(1), T(0), has_bias ? bias.value().data<T>() : nullptr, relu, p);
  });
  std::vector<Variable> inputs{x, weight};
  if (has_bias) inputs.push_back(bias);
  Tensor xv = x.value();
  return make_result(
      out, std::move(inputs),
      [xv, w, rows, in_features, out_features, relu, p, y = relu ? out : Tensor()](
          const Tensor& grad_out, std::vector<Variable>& in) {
        Tensor dy = grad_out;
        if (relu) {  // through the ReLU first: zero where the output was not positive
          dy = Tensor::empty(grad_out.shape(), grad_out.dtype());
          dispatch_float(dy.dtype(), "linear_relu backward", [&]<class T>(T) {
            unary_backward(dy.data<T>(), grad_out.data<T>(), y.data<T>(), y.data<T>(), dy.numel(),
                           UnaryOp::relu, false);
          });
        }
        dispatch_float(dy.dtype(), "linear backward", [&]<class T>(T) {
          if (in[0].requires_grad()) {  // dx (rows, in) = dy (rows, out) * W (out, in)
            Tensor dx = Tensor::empty(xv.shape(), dy.dtype());
            gemm(dx.data<T>(), dy.data<T>(), w.data<T>(), false, false, rows, in_features,
                 out_features, T(1), T(0), nullptr, false, p);
            in[0].accumulate_grad(dx);
          }
          if (in[1].requires_grad()) {  // dW (out, in) = dy^T (out, rows) * x (rows, in)
            Tensor dw = in[1].new_grad();
            gemm(dw.data<T>(), dy.data<T>(), xv.data<T>(), true, false, out_features, in_features,
                 rows, T(1), T(0), nullptr, false, p);
            in[1].accumulate_grad(dw);
          }
          if (in.size() > 2 && in[2].requires_grad()) {  // db (out) = sum over rows of dy
            Tensor db = in[2].new_grad();
            sum_rows(db.data<T>(), dy.data<T>(), rows, out_features, false);
            in[2].accumulate_grad(db);
          }
        });
      },
      relu ? "linear_relu" : "linear");
}

}  // namespace

Variable linear(const Variable& x, const Variable& weight, const Variable& bias) {
  return linear_op(x, weight, bias, false);
}

Variable linear_relu(const Variable& x, const Variable& weight, const Variable& bias) {
  return linear_op(x, weight, bias, true);
}

}  // namespace tide
