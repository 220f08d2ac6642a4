// Time series in PostgreSQL, through libpqxx: the table layout, loading long-format CSV
// with COPY, and reading ranges of series through server-side cursors.
//
// One row per series (docs/timeseries.md explains the choice):
//
//   ordinal   bigint PRIMARY KEY  0, 1, 2, ... in load order: shards and resume points
//   series_id bigint UNIQUE       the id in the user's data
//   label     integer             NULL when the data has none; only for evaluation
//   t0        double precision    t of the first point
//   length    integer             number of points
//   samples   real[]              the points in time order, stored uncompressed out of line
//
// and `<table>_clusters (series_id, cluster, distance)`, written by `tide timeseries cluster`.
// Table names are quoted identifiers and values are query parameters, so any name works.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tide/data/series_source.hpp"

namespace tide {

// The connection string with any password replaced by ***, for messages and logs: in a
// URI's userinfo (user:PASSWORD@) or parameters (?password=), and in the keyword form
// (password=..., after any blank, a newline included).
std::string redact_connection(const std::string& connection);
// A message (libpq's, which may quote part of the string) with the passwords of
// `connection` and any password=... in it replaced by ***.
std::string redact_message(std::string message, const std::string& connection);

// `connection` with libpq's connect_timeout set to `seconds` (at least 2, libpq's minimum)
// unless the string or PGCONNECT_TIMEOUT already sets one: without it, a server that accepts
// the connection and never answers makes the client wait for ever.
std::string with_connect_timeout(const std::string& connection, double seconds);

struct IngestResult {
  int64_t series = 0;
  int64_t rows = 0;
  bool labelled = false;
  double seconds = 0;
};

// Loads a long-format CSV file (SeriesCsvReader) into `table`, creating it and its indexes
// if needed; new series are numbered after those already there. One transaction: on any
// error (a bad line, an id already in the table) nothing is added.
// Connections wait at most `connect_timeout` seconds for the server.
IngestResult ingest_series_csv(const std::string& connection, const std::string& table,
                               const std::string& csv_path, double connect_timeout = 10);

// A table that is one shard of a sharded store says so in `<table>_store (store, shard,
// shards)`: the store's id (the same on every shard), its place and the number of shards.
struct StoreShard {
  std::string store;
  int shard = 0;
  int shards = 1;
};

// Loads a long-format CSV file into a store sharded over `connections` (shard s on the s-th
// server): the file's series, numbered after those already in the store, are split into one
// consecutive range of numbers per shard, balanced by points. Ranges keep the order of one
// table, so a training run reads the same windows in the same order as from one server, and
// each part of a rank's share is one range scan on the server that holds it.
// All or nothing across the servers: each shard's load is a transaction made ready with
// PREPARE TRANSACTION, and committed (COMMIT PREPARED) only once every shard is prepared;
// any failure before that rolls every shard back. The servers need max_prepared_transactions
// of at least 1. A store is made by its first load; later loads must give the same servers in
// the same order.
IngestResult ingest_series_csv_sharded(const std::vector<std::string>& connections,
                                       const std::string& table, const std::string& csv_path,
                                       double connect_timeout = 10);

// Makes the database of `coordinator` see a sharded store as one table: postgres_fdw
// servers for the shards, and `table` there a parent partitioned by shard, whose partitions
// are foreign tables of the shards' series (through a view `<table>_federated` made on each
// shard, which adds its shard number), so that one query, e.g.
// SELECT label, count(*) FROM series GROUP BY label, runs across them. Done again, it is
// made anew. The coordinator must not hold a table `table` of its own. User and password of
// each shard's connection string go into the user mapping, the rest into the server.
void federate_store(const std::string& coordinator, const std::vector<std::string>& shards,
                    const std::string& table, double connect_timeout = 10);

class PostgresSource : public TimeSeriesSource {
 public:
  // Connects and checks that `table` exists with the columns above. Each call below makes
  // its own connection, so a source outlives a restart of the server.
  // `fetch_bytes`: about how much series text a cursor's FETCH brings at a time;
  // `connect_timeout`: seconds a connection may take to be established (with_connect_timeout).
  PostgresSource(std::string connection, std::string table, double fetch_bytes = 16e6,
                 double connect_timeout = 10);
  ~PostgresSource() override;

  std::string describe() const override;
  SourceSummary summary() override;
  std::vector<SeriesRange> shards(int parts, const WindowSpec& windows, int64_t begin = 0,
                                  int64_t end = INT64_MAX) override;
  std::unique_ptr<SeriesCursor> open(int64_t begin, int64_t end) override;
  std::unique_ptr<TimeSeriesSource> clone() const override;

  // Replaces the contents of `<table>_clusters` (created if needed) in one transaction with
  // the clusters of the series this table holds.
  void write_clusters(const std::vector<SeriesCluster>& clusters) override;

  // The table's size on disk with its indexes and out-of-line values (pg_total_relation_size).
  int64_t bytes();
  // Where the table stands in a sharded store; nullopt for a table of its own.
  std::optional<StoreShard> store_shard();
  // The consecutive runs of ordinals the table holds within [begin, end), in order, with
  // their series and windows: one run for a table of its own, one per load for a shard.
  std::vector<SeriesRange> runs(const WindowSpec& windows, int64_t begin = 0,
                                int64_t end = INT64_MAX);
  // The split of shards() for the series of [begin, end) held here, when `before` windows of
  // the whole split come before `begin` and it has `total` windows: for each part that
  // series of this table fall into, that part's series here. Parts in increasing order.
  std::vector<std::pair<int, SeriesRange>> split(int parts, const WindowSpec& windows,
                                                 int64_t begin, int64_t end, int64_t before,
                                                 int64_t total);

 private:
  std::string connection_string_, table_;  // each call makes its own connection
  double fetch_bytes_;
  double connect_timeout_;
};

}  // namespace tide
