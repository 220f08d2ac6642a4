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
#include <string>
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

struct SeriesCluster {
  int64_t series_id = 0;
  int64_t cluster = 0;
  double distance = 0;  // to the cluster's centre
};

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

  // Replaces the contents of `<table>_clusters` (created if needed) in one transaction.
  void write_clusters(const std::vector<SeriesCluster>& clusters);

 private:
  std::string connection_string_, table_;  // each call makes its own connection
  double fetch_bytes_;
  double connect_timeout_;
};

}  // namespace tide
