#include "tide/timeseries/source.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace tide {

std::unique_ptr<PostgresSource> open_source(const SeriesData& d, const Communicator& comm) {
  TIDE_CHECK(!d.db.empty(),
             "--db is required: a PostgreSQL connection string such as \"host=db1 "
             "dbname=series user=tide\"");
  TIDE_CHECK(d.fetch_mb > 0 && d.fetch_mb <= 1e6, "--fetch-mb must be in (0, 1e6], got {}",
             d.fetch_mb);
  TIDE_CHECK(d.retry_seconds >= 0 && std::isfinite(d.retry_seconds),
             "--retry-seconds must be a finite number >= 0, got {}", d.retry_seconds);
  TIDE_CHECK(d.window >= 0 && d.stride >= 0, "--window and --stride must be >= 0, got {} and {}",
             d.window, d.stride);
  // A connection that is not made within --retry-seconds (10 s at most) is given up, so a
  // server that accepts and never answers ends the run in about that time.
  return std::make_unique<PostgresSource>(d.db[static_cast<size_t>(comm.rank()) % d.db.size()],
                                          d.table, d.fetch_mb * 1e6,
                                          std::min(d.retry_seconds, 10.0));
}

WindowSpec resolve_windows(const SeriesData& d, const SourceSummary& s, const std::string& where) {
  TIDE_CHECK(s.series > 0, "{} holds no series", where);
  WindowSpec spec{.length = d.window, .stride = d.stride};
  if (spec.length == 0) {
    TIDE_CHECK(s.min_length == s.max_length,
               "{}: series have {} to {} points; give --window, the points per window", where,
               s.min_length, s.max_length);
    spec.length = s.max_length;
  }
  TIDE_CHECK(spec.length <= s.max_length,
             "--window {} is longer than every series of {} (the longest has {} points)",
             spec.length, where, s.max_length);
  return spec;
}

void check_same_on_ranks(const std::string& text, const Communicator& comm) {
  const std::vector<std::string> all = comm.allgather(text, "the comparison of the tables");
  for (size_t r = 1; r < all.size(); ++r)
    TIDE_CHECK(all[r] == all[0],
               "rank {} sees {}, rank 0 sees {}: every --db must hold the same series", r, all[r],
               all[0]);
}

std::string describe_layout(const SourceSummary& s, const std::vector<SeriesRange>& shards) {
  std::string text = fmt::format("{} series, {} points, lengths {} to {}; shards", s.series,
                                 s.points, s.min_length, s.max_length);
  for (const SeriesRange& r : shards)
    text += fmt::format(" [{}, {}) {}", r.begin, r.end, r.windows);
  return text;
}

}  // namespace tide
