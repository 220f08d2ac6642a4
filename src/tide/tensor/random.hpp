// Tensors filled from a counter-based random stream.
#pragma once

#include "tide/core/rng.hpp"
#include "tide/tensor/tensor.hpp"

namespace tide {

// Uniform in [low, high).
Tensor uniform(Shape shape, double low, double high, RngStream& rng, DType dtype = DType::f32);
// Normal with the given mean and standard deviation.
Tensor normal(Shape shape, double mean, double stddev, RngStream& rng, DType dtype = DType::f32);

}  // namespace tide
