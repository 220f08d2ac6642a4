// ShardedSource: one store of series over several PostgreSQL servers, each holding a shard
// (a table with a `<table>_store` row; ingest_series_csv_sharded makes them). A shard holds
// consecutive runs of the store's ordinals, one per load, so the store reads as one table:
// shards() splits the whole store as one table of the same series would, and a cursor over
// a range reads each run from the server that holds it, in order. Where the runs are is read
// at the first open() and kept (a stream reopening after a lost connection then needs only
// its own shards): a store loaded into since needs a new source.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tide/data/postgres_source.hpp"

namespace tide {

class ShardedSource : public TimeSeriesSource {
 public:
  // `shards[s]` is shard s of one store: checked against their store rows.
  explicit ShardedSource(std::vector<std::unique_ptr<PostgresSource>> shards);

  std::string describe() const override;
  SourceSummary summary() override;
  std::vector<SeriesRange> shards(int parts, const WindowSpec& windows, int64_t begin = 0,
                                  int64_t end = INT64_MAX) override;
  std::unique_ptr<SeriesCursor> open(int64_t begin, int64_t end) override;
  std::unique_ptr<TimeSeriesSource> clone() const override;
  // Each shard keeps the clusters of its own series (a transaction each).
  void write_clusters(const std::vector<SeriesCluster>& clusters) override;

  size_t shard_count() const { return shards_.size(); }
  // Shard s alone (its own connection): a source of the series that server holds.
  std::unique_ptr<PostgresSource> shard(size_t s) const;
  // Shares of [begin, end) for `ranks` ranks that each read one server only: rank r reads
  // shard floor(r x shards / ranks), whose series in the range its group of ranks splits
  // among them, balanced by windows (ranges of that shard's own table). Needs a rank per
  // shard at least. For each rank, its shard and range.
  std::vector<std::pair<size_t, SeriesRange>> local_shares(int ranks, const WindowSpec& windows,
                                                           int64_t begin = 0,
                                                           int64_t end = INT64_MAX);

 private:
  struct Run {
    size_t shard;
    SeriesRange range;
  };
  // The runs of every shard within [begin, end), in the store's order.
  std::vector<Run> runs(const WindowSpec& windows, int64_t begin, int64_t end);

  std::vector<std::unique_ptr<PostgresSource>> shards_;
  std::vector<Run> all_runs_;  // the whole store's, once a cursor asked (open)
  bool runs_known_ = false;
};

}  // namespace tide
