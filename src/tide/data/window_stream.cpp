#include "tide/data/window_stream.hpp"

#include <chrono>
#include <cmath>
#include <cstring>

#include "tide/core/log.hpp"
#include "tide/core/rng.hpp"

namespace tide {
namespace {

using Clock = std::chrono::steady_clock;

// A window waiting in the shuffle buffer.
struct Slot {
  std::vector<float> values;
  int64_t series = 0, series_id = 0, offset = 0, label = -1;
};

}  // namespace

void normalize_series(std::vector<float>& values) {
  if (values.empty()) return;
  double mean = 0;
  for (const float v : values) mean += v;
  mean /= static_cast<double>(values.size());
  double var = 0;
  for (const float v : values) var += (v - mean) * (v - mean);
  const double sd = std::sqrt(var / static_cast<double>(values.size()));
  const double scale = sd > 1e-12 * std::max(1.0, std::abs(mean)) ? 1 / sd : 0;
  for (float& v : values) v = static_cast<float>((v - mean) * scale);
}

WindowStream::WindowStream(std::unique_ptr<TimeSeriesSource> source, SeriesRange range,
                           WindowStreamOptions options)
    : source_(std::move(source)), range_(range), options_(options) {
  const int64_t b = options_.batch_size;
  TIDE_CHECK(b >= 1, "the batch size must be positive, got {}", b);
  TIDE_CHECK(options_.windows.length >= 1, "the window must be at least 1 point, got {}",
             options_.windows.length);
  TIDE_CHECK(options_.shuffle_buffer >= 0, "the shuffle buffer must be >= 0, got {}",
             options_.shuffle_buffer);
  batches_ = options_.batches > 0 ? options_.batches : (range_.windows + b - 1) / b;
  TIDE_CHECK(batches_ == 0 || (batches_ - 1) * b < range_.windows,
             "{} batches of {} need more than the {} windows of series {} to {} of {}", batches_, b,
             range_.windows, range_.begin, range_.end - 1, source_->describe());
}

WindowStream::~WindowStream() {
  prefetcher_.stop();
}

int64_t WindowStream::reconnects() const {
  return reconnects_.load();
}

void WindowStream::start_epoch(int64_t epoch, int64_t first_batch) {
  prefetcher_.stop();
  TIDE_CHECK(first_batch >= 0 && first_batch <= batches_,
             "cannot start epoch {} at batch {}: it has {} batches", epoch, first_batch, batches_);
  handed_ = first_batch;
  end_ = batches_;
  if (handed_ < end_)
    prefetcher_.start(options_.prefetch,
                      [this, epoch, first_batch] { produce(epoch, first_batch); });
}

std::optional<WindowBatch> WindowStream::next() {
  if (handed_ >= end_) return std::nullopt;
  try {
    WindowBatch b = prefetcher_.pop();
    ++handed_;
    return b;
  } catch (...) {
    handed_ = end_;  // the thread failed: the epoch ends, the error is met once
    throw;
  }
}

void WindowStream::produce(int64_t epoch, int64_t first_batch) {
  const int64_t T = options_.windows.length;
  const int64_t step = options_.windows.step();
  const auto capacity = static_cast<size_t>(options_.shuffle_buffer);
  RngStream rng(options_.seed, RngPurpose::shuffle,
                {static_cast<uint64_t>(epoch), options_.stream_id, 0x57});
  std::vector<Slot> pool;
  pool.reserve(capacity);

  int64_t batch_index = 0, filled = 0;
  WindowBatch current;
  const auto batch_size = [&](int64_t i) {
    return i + 1 < batches_ ? options_.batch_size
                            : range_.windows - (batches_ - 1) * options_.batch_size;
  };
  // Adds one window to the batch being filled; false when the stream must stop.
  const auto emit = [&](const float* values, int64_t series, int64_t series_id, int64_t offset,
                        int64_t label) {
    if (batch_index >= batches_) return false;  // the epoch's batches are complete
    const int64_t size = batch_size(batch_index);
    const bool keep = batch_index >= first_batch;
    if (keep) {
      if (filled == 0) {
        current = WindowBatch{};
        current.inputs = Tensor::empty({size, T, 1});
        current.series.reserve(static_cast<size_t>(size));
      }
      std::memcpy(current.inputs.data<float>() + filled * T, values,
                  static_cast<size_t>(T) * sizeof(float));
      current.series.push_back(series);
      current.series_ids.push_back(series_id);
      current.offsets.push_back(offset);
      current.labels.push_back(label);
    }
    if (++filled < size) return true;
    filled = 0;
    ++batch_index;
    return !keep || prefetcher_.push(std::move(current));
  };

  std::unique_ptr<SeriesCursor> cursor;
  int64_t next_ordinal = range_.begin;
  std::optional<Clock::time_point> lost_since;
  double backoff = 0.1;
  SeriesRecord record;
  Slot incoming;
  while (true) {
    if (prefetcher_.stopped()) return;
    bool got = false;
    try {
      if (!cursor) cursor = source_->open(next_ordinal, range_.end);
      got = cursor->next(record);
    } catch (const SourceUnavailable& e) {
      cursor.reset();
      if (!lost_since) {
        lost_since = Clock::now();
        log_warn("{}; reconnecting (series {} onwards of this shard)", e.what(), next_ordinal);
      }
      const double waited = std::chrono::duration<double>(Clock::now() - *lost_since).count();
      TIDE_CHECK(waited + backoff <= options_.retry_seconds,
                 "{}: gave up reconnecting after {:.0f} s: {}", source_->describe(), waited,
                 e.what());
      if (prefetcher_.wait_unless_stopped(backoff)) return;
      backoff = std::min(2 * backoff, 5.0);
      continue;
    }
    if (lost_since) {
      const double waited = std::chrono::duration<double>(Clock::now() - *lost_since).count();
      log_info("reconnected to {} after {:.1f} s; reading on from series {}", source_->describe(),
               waited, next_ordinal);
      lost_since.reset();
      backoff = 0.1;
      ++reconnects_;
    }
    if (!got) break;
    TIDE_CHECK(record.ordinal >= next_ordinal && record.ordinal < range_.end,
               "{}: series {} is outside the range {} to {} being read", source_->describe(),
               record.ordinal, next_ordinal, range_.end - 1);
    next_ordinal = record.ordinal + 1;
    normalize_series(record.values);
    const auto length = static_cast<int64_t>(record.values.size());
    for (int64_t offset = 0; offset + T <= length; offset += step) {
      const float* w = record.values.data() + offset;
      if (capacity == 0) {
        if (!emit(w, record.ordinal, record.series_id, offset, record.label)) return;
        continue;
      }
      Slot* slot = &incoming;
      if (pool.size() < capacity) {
        pool.emplace_back();
        slot = &pool.back();
      }
      slot->values.assign(w, w + T);
      slot->series = record.ordinal;
      slot->series_id = record.series_id;
      slot->offset = offset;
      slot->label = record.label;
      if (slot != &incoming) continue;
      Slot& out = pool[rng.below(capacity)];
      if (!emit(out.values.data(), out.series, out.series_id, out.offset, out.label)) return;
      std::swap(out, incoming);
    }
  }
  while (!pool.empty()) {  // the buffer's rest, in random order
    const size_t j = rng.below(pool.size());
    if (!emit(pool[j].values.data(), pool[j].series, pool[j].series_id, pool[j].offset,
              pool[j].label))
      return;
    std::swap(pool[j], pool.back());
    pool.pop_back();
  }
  TIDE_CHECK(batch_index >= batches_,
             "{}: the shard of series {} to {} gave {} of its {} windows; was the table "
             "changed during the run?",
             source_->describe(), range_.begin, range_.end - 1,
             batch_index * options_.batch_size + filled, range_.windows);
}

}  // namespace tide
