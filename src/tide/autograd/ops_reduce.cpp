#include "tide/autograd/ops_reduce.hpp"

#include "tide/autograd/dispatch.hpp"
#include "tide/kernels/reduce.hpp"

namespace tide {
namespace {

// Sums x over the middle axis of (outer, size, inner), times alpha, into out_shape. Backward
// spreads the gradient back along that axis.
Variable reduce_axis(const Variable& x, int64_t outer, int64_t size, int64_t inner, Shape out_shape,
                     double alpha, const char* name) {
  Tensor y = Tensor::empty(std::move(out_shape), x.dtype());
  dispatch_float(x.dtype(), name, [&]<class T>(T) {
    if (outer == 1 && inner == 1)  // everything: one parallel reduction
      y.data<T>()[0] = static_cast<T>(alpha * sum_all(x.value().data<T>(), size));
    else
      sum_axis(y.data<T>(), x.value().data<T>(), outer, size, inner, static_cast<T>(alpha));
  });
  const Shape in_shape = x.shape();
  return make_result(
      y, {x},
      [=](const Tensor& dy, std::vector<Variable>& in) {
        Tensor dx = Tensor::empty(in_shape, dy.dtype());
        dispatch_float(dy.dtype(), name, [&]<class T>(T) {
          expand_axis(dx.data<T>(), dy.data<T>(), outer, size, inner, static_cast<T>(alpha), false);
        });
        in[0].accumulate_grad(dx);
      },
      name);
}

Variable reduce_dim(const Variable& x, int dim, bool keepdim, bool average, const char* name) {
  const Shape& s = x.shape();
  const int d = s.normalize_dim(dim);
  int64_t outer = 1, inner = 1;
  std::vector<int64_t> out_dims;
  for (int i = 0; i < s.ndim(); ++i) {
    if (i < d) outer *= s.dims()[i];
    if (i > d) inner *= s.dims()[i];
    if (i != d || keepdim) out_dims.push_back(i == d ? 1 : s.dims()[i]);
  }
  const int64_t size = s.dims()[d];
  const double alpha = average ? 1.0 / static_cast<double>(std::max<int64_t>(size, 1)) : 1.0;
  return reduce_axis(x, outer, size, inner, Shape(std::move(out_dims)), alpha, name);
}

}  // namespace

Variable sum(const Variable& x) {
  return reduce_axis(x, 1, x.numel(), 1, {}, 1.0, "sum");
}

Variable mean(const Variable& x) {
  TIDE_CHECK(x.numel() > 0, "mean of an empty tensor {}", x.value().str());
  return reduce_axis(x, 1, x.numel(), 1, {}, 1.0 / static_cast<double>(x.numel()), "mean");
}

Variable sum(const Variable& x, int dim, bool keepdim) {
  return reduce_dim(x, dim, keepdim, false, "sum");
}

Variable mean(const Variable& x, int dim, bool keepdim) {
  return reduce_dim(x, dim, keepdim, true, "mean");
}

}  // namespace tide
