// WindowStream: one rank's windows of time series, read from a TimeSeriesSource range on a
// background thread and handed out in batches.
//
// The thread reads series in ordinal order, normalises each (zero mean, unit standard
// deviation over the whole series), cuts it into windows and passes them through a shuffle
// buffer: once it holds `shuffle_buffer` windows, each new window replaces one drawn at
// random, which goes out (the order depends only on the seed, the epoch and the range, so a
// resumed epoch replays it). Memory is the shuffle buffer, the prefetched batches and one
// FETCH of series, whatever the size of the table.
//
// If the source's connection drops, the thread reconnects with exponential backoff (0.1 s
// doubling to 5 s, for at most `retry_seconds`) and reopens the range after the last series
// it received whole, so no window is skipped or repeated.
#pragma once

#include <atomic>
#include <memory>
#include <optional>

#include "tide/data/prefetcher.hpp"
#include "tide/data/series_source.hpp"
#include "tide/tensor/tensor.hpp"

namespace tide {

struct WindowStreamOptions {
  WindowSpec windows;
  int64_t batch_size = 32;
  // Batches an epoch is cut into: all of batch_size windows but the last, which takes what
  // is left of the range (0: as many as needed, the last one short).
  int64_t batches = 0;
  int64_t shuffle_buffer = 0;  // 0: the windows in order
  uint64_t seed = 0;
  uint64_t stream_id = 0;  // names the shuffle's random stream with the seed (the rank)
  int prefetch = 4;        // batches built ahead
  double retry_seconds = 120;
};

struct WindowBatch {
  Tensor inputs;                    // (B, T, 1) f32, normalised
  std::vector<int64_t> series;      // each window's series ordinal
  std::vector<int64_t> series_ids;  // the series' id in the user's data
  std::vector<int64_t> offsets;     // where the window starts in its series
  std::vector<int64_t> labels;      // the series' labels (-1: none)
};

class WindowStream {
 public:
  WindowStream(std::unique_ptr<TimeSeriesSource> source, SeriesRange range,
               WindowStreamOptions options);
  ~WindowStream();
  WindowStream(const WindowStream&) = delete;
  WindowStream& operator=(const WindowStream&) = delete;

  int64_t batches_per_epoch() const { return batches_; }
  // Starts `epoch` at batch `first_batch`; the batches before it are read and dropped.
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  // The next batch, or nullopt at the end of the epoch; rethrows the thread's errors.
  std::optional<WindowBatch> next();
  // Connections the thread re-made after losing one, over the stream's life.
  int64_t reconnects() const;

 private:
  void produce(int64_t epoch, int64_t first_batch);

  std::unique_ptr<TimeSeriesSource> source_;
  SeriesRange range_;
  WindowStreamOptions options_;
  int64_t batches_ = 0;
  int64_t handed_ = 0, end_ = 0;
  std::atomic<int64_t> reconnects_ = 0;
  Prefetcher<WindowBatch> prefetcher_;  // last: stopped before the members it reads go
};

// Normalises a series in place to mean 0 and standard deviation 1 (a constant series to 0).
void normalize_series(std::vector<float>& values);

}  // namespace tide
