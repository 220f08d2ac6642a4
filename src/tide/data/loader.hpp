// DataLoader: cuts each epoch's order into batches and builds them ahead of use on a
// background thread, so gathering the next batch overlaps the current training step.
#pragma once

#include <memory>
#include <optional>

#include "tide/data/dataset.hpp"
#include "tide/data/sampler.hpp"

namespace tide {

template <typename T>
class Prefetcher;  // prefetcher.hpp: the thread stays out of the loader's users

struct LoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = true;  // ShuffledSampler(seed) when true, SequentialSampler otherwise
  uint64_t seed = 0;
  bool drop_last = false;  // drop the last, smaller batch of an epoch
  int prefetch = 2;        // batches built ahead; 0 builds on the calling thread
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options);
  DataLoader(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const Sampler> sampler,
             LoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  int64_t batches_per_epoch() const;
  const Dataset& dataset() const { return *dataset_; }

  // Starts `epoch` at batch `first_batch` (a resumed run continues mid-epoch); stops any
  // prefetching of the previous epoch.
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  // The next batch of the epoch, or nullopt at its end. An exception thrown while building
  // a batch is rethrown here.
  std::optional<Batch> next();

 private:
  Batch build(int64_t batch_index) const;

  std::shared_ptr<const Dataset> dataset_;
  std::shared_ptr<const Sampler> sampler_;
  LoaderOptions options_;
  std::vector<int64_t> bounds_;  // where each batch starts in order_, then its end
  std::vector<int64_t> order_;
  int64_t next_ = 0, end_ = 0;  // batches of the current epoch still to hand out
  // Last: stopped before the members it reads go.
  std::unique_ptr<Prefetcher<Batch>> prefetcher_;
};

}  // namespace tide
