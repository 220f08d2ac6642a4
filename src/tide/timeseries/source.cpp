#include "tide/timeseries/source.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "tide/data/postgres_source.hpp"
#include "tide/data/sharded_source.hpp"

namespace tide {

std::unique_ptr<TimeSeriesSource> open_source(const SeriesData& d, const Communicator& comm) {
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
  const double timeout = std::min(d.retry_seconds, 10.0);
  const auto source = [&](const std::string& db) {
    return std::make_unique<PostgresSource>(db, d.table, d.fetch_mb * 1e6, timeout);
  };
  const size_t rank = static_cast<size_t>(comm.rank());
  std::unique_ptr<PostgresSource> mine = source(d.db[rank % d.db.size()]);
  const std::optional<StoreShard> shard = mine->store_shard();
  if (!shard) return mine;
  const std::string mine_described = mine->describe();

  // A shard: find every shard among the --db, and take one of each.
  std::vector<std::vector<std::unique_ptr<PostgresSource>>> holders(
      static_cast<size_t>(shard->shards));
  for (size_t i = 0; i < d.db.size(); ++i) {
    // This rank's own --db is open already.
    std::unique_ptr<PostgresSource> s = i == rank % d.db.size() ? std::move(mine) : source(d.db[i]);
    const std::optional<StoreShard> of = s->store_shard();
    TIDE_CHECK(of && of->store == shard->store && of->shards == shard->shards,
               "{} is not a shard of store {} ({} shards), as {} is: every --db must hold a shard "
               "of the same store",
               s->describe(), shard->store, shard->shards, mine_described);
    holders[static_cast<size_t>(of->shard)].push_back(std::move(s));
  }
  std::vector<std::unique_ptr<PostgresSource>> shards;
  for (size_t s = 0; s < holders.size(); ++s) {
    TIDE_CHECK(!holders[s].empty(),
               "store {} has {} shards and no --db holds shard {}: give a "
               "--db for every shard",
               shard->store, shard->shards, s + 1);
    shards.push_back(std::move(holders[s][rank % holders[s].size()]));
  }
  return std::make_unique<ShardedSource>(std::move(shards));
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
