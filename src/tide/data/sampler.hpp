// Samplers: the order in which one epoch visits a dataset's examples.
#pragma once

#include <cstdint>
#include <vector>

namespace tide {

class Sampler {
 public:
  virtual ~Sampler() = default;
  virtual std::vector<int64_t> epoch_indices(int64_t epoch) const = 0;
};

// 0, 1, ..., n-1 every epoch.
class SequentialSampler : public Sampler {
 public:
  explicit SequentialSampler(int64_t n) : n_(n) {}
  std::vector<int64_t> epoch_indices(int64_t epoch) const override;

 private:
  int64_t n_;
};

// A Fisher-Yates shuffle drawn from RngStream(seed, shuffle, {epoch}): the order is a pure
// function of (seed, epoch), so a resumed run and every rank see the same order.
class ShuffledSampler : public Sampler {
 public:
  ShuffledSampler(int64_t n, uint64_t seed) : n_(n), seed_(seed) {}
  std::vector<int64_t> epoch_indices(int64_t epoch) const override;

 private:
  int64_t n_;
  uint64_t seed_;
};

}  // namespace tide
