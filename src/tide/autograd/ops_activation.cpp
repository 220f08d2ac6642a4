#include "tide/autograd/ops_activation.hpp"

#include "tide/autograd/dispatch.hpp"
#include "tide/kernels/elementwise.hpp"
#include "tide/kernels/softmax.hpp"

namespace tide {
namespace {

Variable unary_op(const Variable& x, UnaryOp op, const char* name) {
  Tensor xv = x.value();
  Tensor y = Tensor::empty(xv.shape(), xv.dtype());
  dispatch_float(xv.dtype(), name,
                 [&]<class T>(T) { unary(y.data<T>(), xv.data<T>(), xv.numel(), op); });
  return make_result(
      y, {x},
      [xv, y, op, name](const Tensor& dy, std::vector<Variable>& in) {
        Tensor dx = Tensor::empty(dy.shape(), dy.dtype());
        dispatch_float(dy.dtype(), name, [&]<class T>(T) {
          unary_backward(dx.data<T>(), dy.data<T>(), xv.data<T>(), y.data<T>(), dy.numel(), op,
                         false);
        });
        in[0].accumulate_grad(dx);
      },
      name);
}

// Views x as (outer, size, inner) around dimension dim.
struct AxisSplit {
  int64_t outer = 1, size = 1, inner = 1;
};
AxisSplit split_at(const Shape& shape, int dim) {
  const int d = shape.normalize_dim(dim);
  AxisSplit s;
  for (int i = 0; i < shape.ndim(); ++i)
    (i < d ? s.outer : i == d ? s.size : s.inner) *= shape.dims()[i];
  return s;
}

Variable softmax_op(const Variable& x, int dim, bool log, const char* name) {
  const AxisSplit s = split_at(x.shape(), dim);
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  dispatch_float(x.dtype(), name, [&]<class T>(T) {
    softmax(y.data<T>(), x.value().data<T>(), s.outer, s.size, s.inner, log);
  });
  return make_result(
      y, {x},
      [y, s, log, name](const Tensor& dy, std::vector<Variable>& in) {
        Tensor dx = Tensor::empty(dy.shape(), dy.dtype());
        dispatch_float(dy.dtype(), name, [&]<class T>(T) {
          softmax_backward(dx.data<T>(), dy.data<T>(), y.data<T>(), s.outer, s.size, s.inner, log);
        });
        in[0].accumulate_grad(dx);
      },
      name);
}

}  // namespace

Variable relu(const Variable& x) {
  return unary_op(x, UnaryOp::relu, "relu");
}
Variable sigmoid(const Variable& x) {
  return unary_op(x, UnaryOp::sigmoid, "sigmoid");
}
Variable tanh(const Variable& x) {
  return unary_op(x, UnaryOp::tanh, "tanh");
}
Variable exp(const Variable& x) {
  return unary_op(x, UnaryOp::exp, "exp");
}
Variable log(const Variable& x) {
  return unary_op(x, UnaryOp::log, "log");
}
Variable square(const Variable& x) {
  return unary_op(x, UnaryOp::square, "square");
}
Variable sqrt(const Variable& x) {
  return unary_op(x, UnaryOp::sqrt, "sqrt");
}
Variable gelu(const Variable& x, GeluApproximation approximate) {
  if (approximate == GeluApproximation::tanh) return unary_op(x, UnaryOp::gelu_tanh, "gelu_tanh");
  return unary_op(x, UnaryOp::gelu, "gelu");
}

Variable softmax(const Variable& x, int dim) {
  return softmax_op(x, dim, false, "softmax");
}
Variable log_softmax(const Variable& x, int dim) {
  return softmax_op(x, dim, true, "log_softmax");
}

}  // namespace tide
