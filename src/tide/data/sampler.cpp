#include "tide/data/sampler.hpp"

#include <algorithm>
#include <cstddef>
#include <numeric>
#include <utility>

#include "tide/core/error.hpp"
#include "tide/core/rng.hpp"

namespace tide {

std::vector<int64_t> Sampler::batch_bounds(int64_t batch_size, bool drop_last) const {
  TIDE_CHECK(batch_size > 0, "batch size must be positive, got {}", batch_size);
  const int64_t n = size(),
                batches = drop_last ? n / batch_size : (n + batch_size - 1) / batch_size;
  std::vector<int64_t> bounds;
  for (int64_t i = 0; i <= batches; ++i) bounds.push_back(std::min(i * batch_size, n));
  return bounds;
}

std::vector<int64_t> SequentialSampler::epoch_indices(int64_t) const {
  std::vector<int64_t> order(static_cast<size_t>(n_));
  std::iota(order.begin(), order.end(), 0);
  return order;
}

std::vector<int64_t> ShuffledSampler::epoch_indices(int64_t epoch) const {
  std::vector<int64_t> order(static_cast<size_t>(n_));
  std::iota(order.begin(), order.end(), 0);
  RngStream rng(seed_, RngPurpose::shuffle, {static_cast<uint64_t>(epoch)});
  shuffle(order, rng);
  return order;
}

DistributedSampler::DistributedSampler(int64_t n, int rank, int ranks, int64_t batch_size,
                                       bool shuffle, uint64_t seed)
    : n_(n), batch_size_(batch_size), shuffle_(shuffle), seed_(seed) {
  TIDE_CHECK(ranks >= 1 && rank >= 0 && rank < ranks, "rank {} is not one of {} ranks", rank,
             ranks);
  TIDE_CHECK(batch_size > 0, "batch size must be positive, got {}", batch_size);
  TIDE_CHECK(n >= ranks, "a dataset of {} examples cannot give each of {} ranks one", n, ranks);
  const int64_t global = batch_size * ranks;
  std::vector<int64_t> starts;  // of the global batches, then n
  for (int64_t s = 0; s < n; s += global) starts.push_back(s);
  if (n - starts.back() < ranks && starts.size() > 1) starts.pop_back();  // too small: join
  starts.push_back(n);
  bounds_.push_back(0);
  for (size_t j = 0; j + 1 < starts.size(); ++j) {
    const int64_t begin = starts[j], m = starts[j + 1] - begin;
    parts_.emplace_back(begin + rank * m / ranks, begin + (rank + 1) * m / ranks);
    bounds_.push_back(bounds_.back() + parts_.back().second - parts_.back().first);
  }
}

std::vector<int64_t> DistributedSampler::epoch_indices(int64_t epoch) const {
  const std::vector<int64_t> order = shuffle_ ? ShuffledSampler(n_, seed_).epoch_indices(epoch)
                                              : SequentialSampler(n_).epoch_indices(epoch);
  std::vector<int64_t> mine;
  mine.reserve(static_cast<size_t>(size()));
  for (const auto& [begin, end] : parts_)
    mine.insert(mine.end(), order.begin() + begin, order.begin() + end);
  return mine;
}

std::vector<int64_t> DistributedSampler::batch_bounds(int64_t batch_size, bool drop_last) const {
  TIDE_CHECK(batch_size == batch_size_ && !drop_last,
             "a DistributedSampler made for batches of {} cannot cut batches of {}{}", batch_size_,
             batch_size, drop_last ? " dropping the last" : "");
  return bounds_;
}

}  // namespace tide
