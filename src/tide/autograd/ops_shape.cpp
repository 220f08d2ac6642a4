#include "tide/autograd/ops_shape.hpp"

namespace tide {

Variable reshape(const Variable& x, Shape shape) {
  const Shape in_shape = x.shape();
  return make_result(
      x.value().reshape(std::move(shape)), {x},
      [in_shape](const Tensor& dy, std::vector<Variable>& in) {
        in[0].accumulate_grad(dy.reshape(in_shape));
      },
      "reshape");
}

Variable flatten(const Variable& x, int start_dim) {
  const Shape& s = x.shape();
  if (s.ndim() == 0) return reshape(x, {1});
  const int d = s.normalize_dim(start_dim);
  std::vector<int64_t> dims(s.dims().begin(), s.dims().begin() + d);
  dims.push_back(-1);
  return reshape(x, Shape(std::move(dims)));
}

}  // namespace tide
