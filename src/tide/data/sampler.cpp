#include "tide/data/sampler.hpp"

#include <cstddef>
#include <numeric>
#include <utility>

#include "tide/core/rng.hpp"

namespace tide {

std::vector<int64_t> SequentialSampler::epoch_indices(int64_t) const {
  std::vector<int64_t> order(static_cast<size_t>(n_));
  std::iota(order.begin(), order.end(), 0);
  return order;
}

std::vector<int64_t> ShuffledSampler::epoch_indices(int64_t epoch) const {
  std::vector<int64_t> order(static_cast<size_t>(n_));
  std::iota(order.begin(), order.end(), 0);
  RngStream rng(seed_, RngPurpose::shuffle, {static_cast<uint64_t>(epoch)});
  for (int64_t i = n_ - 1; i > 0; --i)
    std::swap(order[static_cast<size_t>(i)], order[rng.below(static_cast<uint64_t>(i) + 1)]);
  return order;
}

}  // namespace tide
