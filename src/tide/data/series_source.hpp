// TimeSeriesSource: where `tide timeseries` reads series from. A store holds numbered
// series (ordinal 0, 1, 2, ... in the order they were loaded); readers ask for ranges of
// ordinals, so a rank's shard is one range and a reader that lost its connection resumes
// after the last series it received. PostgresSource (postgres_source.hpp) is one table and
// ShardedSource (sharded_source.hpp) a store sharded over several; another store would
// implement the same interface.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tide/core/error.hpp"

namespace tide {

// One series as stored: its place, its id in the user's data, its hidden label (-1 when
// none) and its points in time order.
struct SeriesRecord {
  int64_t ordinal = 0;
  int64_t series_id = 0;
  int64_t label = -1;
  std::vector<float> values;
};

// Windows of `length` points every `stride` points (0: stride = length); a series shorter
// than one window gives none.
struct WindowSpec {
  int64_t length = 0;
  int64_t stride = 0;
  int64_t step() const { return stride > 0 ? stride : length; }
  int64_t windows_of(int64_t series_length) const {
    return series_length < length ? 0 : (series_length - length) / step() + 1;
  }
};

// The series with ordinal in [begin, end) and the windows they hold.
struct SeriesRange {
  int64_t begin = 0, end = 0;
  int64_t series = 0;
  int64_t windows = 0;
};

// Makes the parts of a split that hold no series empty ranges where the next part starts,
// and each part end where the next begins, so that the parts cover [begin, end) in order
// (the last ends after the last series, or at begin when there is none).
void close_empty_parts(std::vector<SeriesRange>& parts, int64_t begin, int64_t end);

struct SourceSummary {
  int64_t series = 0;
  int64_t points = 0;
  int64_t min_length = 0, max_length = 0;
  int64_t labelled = 0;  // series with a label
};

// A series' cluster, as `tide timeseries cluster` writes it back to the store.
struct SeriesCluster {
  int64_t series_id = 0;
  int64_t cluster = 0;
  double distance = 0;  // to the cluster's centre
};

// Thrown by a source when its connection is lost or cannot be made; WindowStream retries
// on it, every other error stops the run.
class SourceUnavailable : public Error {
 public:
  using Error::Error;
};

// Reads the series of one range in ordinal order.
class SeriesCursor {
 public:
  virtual ~SeriesCursor() = default;
  // The next series, false at the end of the range.
  virtual bool next(SeriesRecord& out) = 0;
};

class TimeSeriesSource {
 public:
  virtual ~TimeSeriesSource() = default;
  // For messages: the table and where it is, without credentials.
  virtual std::string describe() const = 0;
  virtual SourceSummary summary() = 0;
  // `parts` consecutive ranges covering every series with ordinal in [begin, end), with
  // windows balanced between them.
  virtual std::vector<SeriesRange> shards(int parts, const WindowSpec& windows, int64_t begin = 0,
                                          int64_t end = INT64_MAX) = 0;
  // A cursor over the series with ordinal in [begin, end).
  virtual std::unique_ptr<SeriesCursor> open(int64_t begin, int64_t end) = 0;
  // A fresh source on the same store (its own connection), for another thread.
  virtual std::unique_ptr<TimeSeriesSource> clone() const = 0;
  // Replaces the clusters the store holds for its series with these.
  virtual void write_clusters(const std::vector<SeriesCluster>& clusters) = 0;
};

}  // namespace tide
