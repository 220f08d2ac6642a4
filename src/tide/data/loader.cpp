#include "tide/data/loader.hpp"

#include <algorithm>

#include "tide/core/error.hpp"
#include "tide/data/prefetcher.hpp"

namespace tide {
namespace {

std::shared_ptr<const Sampler> default_sampler(const Dataset& d, const LoaderOptions& o) {
  if (o.shuffle) return std::make_shared<ShuffledSampler>(d.size(), o.seed);
  return std::make_shared<SequentialSampler>(d.size());
}

}  // namespace

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options)
    : DataLoader(dataset, default_sampler(*dataset, options), options) {}

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset,
                       std::shared_ptr<const Sampler> sampler, LoaderOptions options)
    : dataset_(std::move(dataset)),
      sampler_(std::move(sampler)),
      options_(options),
      prefetcher_(std::make_unique<Prefetcher<Batch>>()) {
  TIDE_CHECK(options_.batch_size > 0, "batch size must be positive, got {}", options_.batch_size);
  TIDE_CHECK(options_.prefetch >= 0, "prefetch must be >= 0, got {}", options_.prefetch);
  bounds_ = sampler_->batch_bounds(options_.batch_size, options_.drop_last);
}

DataLoader::~DataLoader() {
  prefetcher_->stop();
}

int64_t DataLoader::batches_per_epoch() const {
  return static_cast<int64_t>(bounds_.size()) - 1;
}

Batch DataLoader::build(int64_t batch_index) const {
  const int64_t begin = bounds_[static_cast<size_t>(batch_index)];
  const int64_t end = bounds_[static_cast<size_t>(batch_index) + 1];
  return dataset_->get_batch(
      std::span<const int64_t>(order_.data() + begin, static_cast<size_t>(end - begin)));
}

void DataLoader::start_epoch(int64_t epoch, int64_t first_batch) {
  prefetcher_->stop();  // before order_ changes under it
  const int64_t total = batches_per_epoch();
  TIDE_CHECK(first_batch >= 0 && first_batch <= total,
             "cannot start epoch {} at batch {}: it has {} batches", epoch, first_batch, total);
  order_ = sampler_->epoch_indices(epoch);
  TIDE_CHECK(static_cast<int64_t>(order_.size()) == sampler_->size(),
             "sampler returned {} indices for an epoch of {}", order_.size(), sampler_->size());
  next_ = first_batch;
  end_ = total;
  if (options_.prefetch > 0 && next_ < end_)
    prefetcher_->start(options_.prefetch, [this, first = next_, end = end_] {
      for (int64_t i = first; i < end; ++i)
        if (!prefetcher_->push(build(i))) return;
    });
}

std::optional<Batch> DataLoader::next() {
  if (next_ >= end_) return std::nullopt;
  if (options_.prefetch == 0) return build(next_++);
  try {
    Batch b = prefetcher_->pop();
    ++next_;
    return b;
  } catch (...) {
    next_ = end_;  // the worker failed on this batch: the epoch ends, the error is met once
    throw;
  }
}

}  // namespace tide
