// Reading a store of series in tests: every series, every window it should give, and one
// epoch of a WindowStream checked against them.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tide/data/series_source.hpp"
#include "tide/data/timeseries.hpp"
#include "tide/data/window_stream.hpp"

namespace tide::testing {

// Every series of `source`, read through one cursor.
inline std::vector<SeriesRecord> read_all(TimeSeriesSource& source) {
  const SourceSummary s = source.summary();
  std::vector<SeriesRecord> all;
  std::unique_ptr<SeriesCursor> c = source.open(0, s.series);
  SeriesRecord r;
  while (c->next(r)) all.push_back(r);
  return all;
}

// Every window of the range, normalised, in (series, offset) order.
inline std::map<std::pair<int64_t, int64_t>, std::vector<float>> expected_windows(
    const std::vector<SeriesRecord>& series, const WindowSpec& spec) {
  std::map<std::pair<int64_t, int64_t>, std::vector<float>> out;
  for (SeriesRecord r : series) {
    normalize_series(r.values);
    for (int64_t o = 0; o + spec.length <= static_cast<int64_t>(r.values.size()); o += spec.step())
      out[{r.ordinal, o}] =
          std::vector<float>(r.values.begin() + o, r.values.begin() + o + spec.length);
  }
  return out;
}

using Seen = std::map<std::pair<int64_t, int64_t>, int>;

// Reads one epoch, checking each window's values; returns how often each was seen.
inline Seen read_epoch(WindowStream& stream, int64_t epoch,
                       const std::map<std::pair<int64_t, int64_t>, std::vector<float>>& expected,
                       std::vector<std::pair<int64_t, int64_t>>* order = nullptr,
                       const std::function<void(int64_t)>& after_batch = nullptr,
                       int64_t first = 0) {
  Seen seen;
  stream.start_epoch(epoch, first);
  int64_t b = first;
  while (std::optional<WindowBatch> batch = stream.next()) {
    const int64_t n = batch->inputs.shape()[0], T = batch->inputs.shape()[1];
    EXPECT_EQ(static_cast<int64_t>(batch->series.size()), n);
    for (int64_t i = 0; i < n; ++i) {
      const std::pair key{batch->series[static_cast<size_t>(i)],
                          batch->offsets[static_cast<size_t>(i)]};
      ++seen[key];
      if (order) order->push_back(key);
      const float* x = batch->inputs.data<float>() + i * T;
      EXPECT_EQ(std::vector<float>(x, x + T), expected.at(key));
    }
    if (after_batch) after_batch(b);
    ++b;
  }
  return seen;
}

}  // namespace tide::testing
