#include "tide/tensor/random.hpp"

namespace tide {
namespace {

template <class Draw>
Tensor fill_with(Shape shape, DType dtype, Draw draw) {
  TIDE_CHECK(dtype == DType::f32 || dtype == DType::f64,
             "random tensors must be f32 or f64, not {}", dtype_name(dtype));
  Tensor t = Tensor::empty(std::move(shape), dtype);
  const int64_t n = t.numel();
  if (dtype == DType::f32) {
    float* p = t.data<float>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(draw());
  } else {
    double* p = t.data<double>();
    for (int64_t i = 0; i < n; ++i) p[i] = draw();
  }
  return t;
}

}  // namespace

Tensor uniform(Shape shape, double low, double high, RngStream& rng, DType dtype) {
  return fill_with(std::move(shape), dtype,
                   [&] { return low + (high - low) * rng.uniform_double(); });
}

Tensor normal(Shape shape, double mean, double stddev, RngStream& rng, DType dtype) {
  return fill_with(std::move(shape), dtype, [&] { return mean + stddev * rng.normal(); });
}

}  // namespace tide
