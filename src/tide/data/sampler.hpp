// Samplers: the order in which one epoch visits a dataset's examples.
#pragma once

#include <cstdint>
#include <vector>

namespace tide {

class Sampler {
 public:
  virtual ~Sampler() = default;
  // The dataset indices one epoch visits, in order.
  virtual std::vector<int64_t> epoch_indices(int64_t epoch) const = 0;
  // How many indices an epoch has.
  virtual int64_t size() const = 0;
  // Where the epoch's batches start in epoch_indices(), then its end. By default every
  // batch_size: 0, b, 2b, ..., size(), the last batch smaller or, with drop_last, dropped.
  virtual std::vector<int64_t> batch_bounds(int64_t batch_size, bool drop_last) const;
};

// 0, 1, ..., n-1 every epoch.
class SequentialSampler : public Sampler {
 public:
  explicit SequentialSampler(int64_t n) : n_(n) {}
  std::vector<int64_t> epoch_indices(int64_t epoch) const override;
  int64_t size() const override { return n_; }

 private:
  int64_t n_;
};

// A Fisher-Yates shuffle drawn from RngStream(seed, shuffle, {epoch}): the order is a pure
// function of (seed, epoch), so a resumed run and every rank see the same order.
class ShuffledSampler : public Sampler {
 public:
  ShuffledSampler(int64_t n, uint64_t seed) : n_(n), seed_(seed) {}
  std::vector<int64_t> epoch_indices(int64_t epoch) const override;
  int64_t size() const override { return n_; }

 private:
  int64_t n_;
  uint64_t seed_;
};

// One rank's share of an epoch in data-parallel training. The epoch's order (shuffled as
// ShuffledSampler's, or sequential) is cut into global batches of ranks * batch_size, and
// rank r takes the r-th consecutive part of each. The shares are disjoint and together
// cover the epoch; every rank gets the same number of batches, and no batch is empty:
// the last global batch is split as evenly as it goes, and when it is too small to give
// each rank one example it joins the one before. With one rank this is the plain
// sampler, batch for batch; and the ranks' batches of one step together are the batch a
// single process with batch ranks * batch_size would take at that step.
class DistributedSampler : public Sampler {
 public:
  DistributedSampler(int64_t n, int rank, int ranks, int64_t batch_size, bool shuffle,
                     uint64_t seed);
  std::vector<int64_t> epoch_indices(int64_t epoch) const override;
  int64_t size() const override { return bounds_.back(); }
  // This rank's batches; batch_size must be the one given above, and drop_last false.
  std::vector<int64_t> batch_bounds(int64_t batch_size, bool drop_last) const override;

 private:
  int64_t n_, batch_size_;
  bool shuffle_;
  uint64_t seed_;
  std::vector<std::pair<int64_t, int64_t>> parts_;  // [begin, end) in the epoch's order
  std::vector<int64_t> bounds_;
};

}  // namespace tide
