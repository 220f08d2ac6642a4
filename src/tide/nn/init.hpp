// Parameter initialisers. Each draws from the given counter-based stream, so a model built
// with the same seed has the same weights on every rank and every run.
#pragma once

#include "tide/core/rng.hpp"
#include "tide/tensor/tensor.hpp"

namespace tide {

// U(-b, b) with b = gain * sqrt(3 / fan_in) (He et al. 2015); gain sqrt(2) suits ReLU.
Tensor kaiming_uniform(Shape shape, int64_t fan_in, double gain, RngStream& rng);
// N(0, s^2) with s = gain / sqrt(fan_in).
Tensor kaiming_normal(Shape shape, int64_t fan_in, double gain, RngStream& rng);
// U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010).
Tensor xavier_uniform(Shape shape, int64_t fan_in, int64_t fan_out, double gain, RngStream& rng);
// N(0, s^2) with s = gain * sqrt(2 / (fan_in + fan_out)).
Tensor xavier_normal(Shape shape, int64_t fan_in, int64_t fan_out, double gain, RngStream& rng);

}  // namespace tide
