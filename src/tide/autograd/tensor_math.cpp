#include "tide/autograd/tensor_math.hpp"

namespace tide {

Tensor binary_tensor(const Tensor& a, const Tensor& b, BinaryOp op) {
  TIDE_CHECK(a.dtype() == b.dtype(), "elementwise op on {} and {}: dtypes differ", a.str(),
             b.str());
  Tensor out = Tensor::empty(broadcast_shapes(a.shape(), b.shape()), a.dtype());
  dispatch_float(a.dtype(), "elementwise op", [&]<class T>(T) {
    binary(out.data<T>(), a.data<T>(), b.data<T>(), out.shape(), a.shape(), b.shape(), op);
  });
  return out;
}

Tensor reduce_to_shape(const Tensor& t, const Shape& shape) {
  if (t.shape() == shape) return t;
  Tensor out = Tensor::empty(shape, t.dtype());
  dispatch_float(t.dtype(), "broadcast backward",
                 [&]<class T>(T) { sum_to_shape(out.data<T>(), t.data<T>(), shape, t.shape()); });
  return out;
}

Tensor affine_tensor(const Tensor& t, double alpha, double beta) {
  Tensor out = Tensor::empty(t.shape(), t.dtype());
  dispatch_float(t.dtype(), "affine", [&]<class T>(T) {
    affine(out.data<T>(), t.data<T>(), t.numel(), static_cast<T>(alpha), static_cast<T>(beta));
  });
  return out;
}

}  // namespace tide
