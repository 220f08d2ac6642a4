#include "tide/nn/init.hpp"

#include <cmath>

#include "tide/tensor/random.hpp"

namespace tide {

Tensor kaiming_uniform(Shape shape, int64_t fan_in, double gain, RngStream& rng) {
  const double bound = gain * std::sqrt(3.0 / static_cast<double>(fan_in));
  return uniform(std::move(shape), -bound, bound, rng);
}

Tensor kaiming_normal(Shape shape, int64_t fan_in, double gain, RngStream& rng) {
  return normal(std::move(shape), 0.0, gain / std::sqrt(static_cast<double>(fan_in)), rng);
}

Tensor xavier_uniform(Shape shape, int64_t fan_in, int64_t fan_out, double gain, RngStream& rng) {
  const double bound = gain * std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  return uniform(std::move(shape), -bound, bound, rng);
}

Tensor xavier_normal(Shape shape, int64_t fan_in, int64_t fan_out, double gain, RngStream& rng) {
  return normal(std::move(shape), 0.0,
                gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out)), rng);
}

}  // namespace tide
