// A store sharded over three real PostgreSQL servers (scripts/pg-local, loopback): the load
// splits the series into consecutive ranges, reads back as one table would (the same
// summary, the same split among ranks, the same series and windows in the same order), is
// all or nothing across the servers, survives a shard's restart mid-epoch, and writes each
// series' cluster to the shard that holds it.
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/postgres_server.hpp"
#include "support/testing.hpp"
#include "support/windows.hpp"
#include "tide/data/postgres_source.hpp"
#include "tide/data/sharded_source.hpp"
#include "tide/data/timeseries.hpp"
#include "tide/data/window_stream.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using tide::testing::error_of;
using tide::testing::expected_windows;
using tide::testing::PostgresServer;
using tide::testing::read_all;
using tide::testing::read_epoch;

class Sharded : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    for (auto& s : servers_) s = new PostgresServer();
  }
  static void TearDownTestSuite() {
    for (auto& s : servers_) {
      delete s;
      s = nullptr;
    }
  }
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tide-shardtest-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::vector<std::string> urls() {
    return {servers_[0]->url(), servers_[1]->url(), servers_[2]->url()};
  }
  // Generated series as CSV, ids from `first_id`; lengths vary so that the split by points
  // differs from a split by series.
  std::string csv(const std::string& name, int series, int first_id, uint64_t seed) {
    std::string text = "series_id,t,value,label\n";
    const std::vector<LabelledSeries> all =
        generate_series({.series = series, .length = 64, .classes = 3, .seed = seed});
    for (int i = 0; i < series; ++i) {
      const int length = 24 + (i * 7) % 41;
      for (int t = 0; t < length; ++t)
        text += fmt::format("{},{},{},{}\n", first_id + i, t, all[static_cast<size_t>(i)].values[t],
                            all[static_cast<size_t>(i)].label);
    }
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  static std::unique_ptr<ShardedSource> store(const std::string& table, double fetch = 16e6) {
    std::vector<std::unique_ptr<PostgresSource>> shards;
    for (const std::string& url : urls())
      shards.push_back(std::make_unique<PostgresSource>(url, table, fetch));
    return std::make_unique<ShardedSource>(std::move(shards));
  }
  // The table's rows on one server; -1 where it has no such table.
  static int64_t count(int server, const std::string& table) {
    if (servers_[server]->psql(fmt::format("SELECT to_regclass('{}') IS NULL", table)) == "t\n")
      return -1;
    return std::stoll(servers_[server]->psql(fmt::format("SELECT count(*) FROM {}", table)));
  }

  static PostgresServer* servers_[3];
  fs::path dir_;
};
PostgresServer* Sharded::servers_[3] = {nullptr, nullptr, nullptr};

void expect_same_series(const std::vector<SeriesRecord>& a, const std::vector<SeriesRecord>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].ordinal, b[i].ordinal);
    EXPECT_EQ(a[i].series_id, b[i].series_id);
    EXPECT_EQ(a[i].label, b[i].label);
    EXPECT_EQ(a[i].values, b[i].values) << "series " << a[i].series_id;
  }
}

void expect_same_split(TimeSeriesSource& sharded, TimeSeriesSource& one, const WindowSpec& spec,
                       int64_t begin = 0, int64_t end = INT64_MAX) {
  for (const int parts : {1, 2, 3, 5, 8}) {
    const std::vector<SeriesRange> a = sharded.shards(parts, spec, begin, end);
    const std::vector<SeriesRange> b = one.shards(parts, spec, begin, end);
    ASSERT_EQ(a.size(), b.size());
    for (size_t p = 0; p < a.size(); ++p) {
      EXPECT_EQ(a[p].begin, b[p].begin) << parts << " parts, part " << p;
      EXPECT_EQ(a[p].end, b[p].end) << parts << " parts, part " << p;
      EXPECT_EQ(a[p].series, b[p].series) << parts << " parts, part " << p;
      EXPECT_EQ(a[p].windows, b[p].windows) << parts << " parts, part " << p;
    }
  }
}

TEST_F(Sharded, ALoadSplitsByPointsAndReadsAsOneTable) {
  const std::string first = csv("a.csv", 90, 1000, 1), second = csv("b.csv", 40, 5000, 2);
  const IngestResult r = ingest_series_csv_sharded(urls(), "s", first);
  EXPECT_EQ(r.series, 90);
  EXPECT_TRUE(r.labelled);
  ingest_series_csv(servers_[0]->url(), "one", first);  // the same series in one table

  // Each shard one consecutive range, in server order, about a third of the points each.
  const WindowSpec spec{.length = 16, .stride = 4};
  const WindowSpec every{.length = 1, .stride = 1};
  int64_t next = 0, points = 0;
  std::vector<int64_t> shard_points;
  for (const std::string& url : urls()) {
    PostgresSource shard(url, "s");
    const std::vector<SeriesRange> runs = shard.runs(every);
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].begin, next);
    next = runs[0].end;
    shard_points.push_back(shard.summary().points);
    points += shard_points.back();
  }
  EXPECT_EQ(next, 90);
  for (const int64_t p : shard_points) EXPECT_NEAR(p, points / 3.0, 64.0) << "points per shard";

  auto sharded = store("s");
  PostgresSource one(servers_[0]->url(), "one");
  const SourceSummary a = sharded->summary(), b = one.summary();
  EXPECT_EQ(a.series, b.series);
  EXPECT_EQ(a.points, b.points);
  EXPECT_EQ(a.min_length, b.min_length);
  EXPECT_EQ(a.max_length, b.max_length);
  EXPECT_EQ(a.labelled, b.labelled);
  expect_same_series(read_all(*sharded), read_all(one));
  expect_same_split(*sharded, one, spec);

  // A second load appends a range to each shard; the store (a new source: one finds where the
  // runs are once) still reads as the one table.
  ingest_series_csv_sharded(urls(), "s", second);
  ingest_series_csv(servers_[0]->url(), "one", second);
  sharded = store("s");
  PostgresSource middle(servers_[1]->url(), "s");
  EXPECT_EQ(middle.runs(every).size(), 2u);
  expect_same_series(read_all(*sharded), read_all(one));
  expect_same_split(*sharded, one, spec);
  expect_same_split(*sharded, one, spec, 70, 120);  // a validation tail, across shards

  // A shuffled epoch: the same windows in the same order as from the one table, each once.
  const auto expected = expected_windows(read_all(one), spec);
  const WindowStreamOptions o{.windows = spec, .batch_size = 16, .shuffle_buffer = 64, .seed = 3};
  for (const int parts : {1, 3}) {
    const std::vector<SeriesRange> ranges = sharded->shards(parts, spec);
    for (int p = 0; p < parts; ++p) {
      WindowStream from_shards(sharded->clone(), ranges[static_cast<size_t>(p)], o);
      WindowStream from_one(one.clone(), one.shards(parts, spec)[static_cast<size_t>(p)], o);
      std::vector<std::pair<int64_t, int64_t>> order_shards, order_one;
      const auto seen = read_epoch(from_shards, 0, expected, &order_shards);
      read_epoch(from_one, 0, expected, &order_one);
      EXPECT_EQ(order_shards, order_one) << parts << " parts, part " << p;
      for (const auto& [key, n] : seen) EXPECT_EQ(n, 1);
      if (parts == 1) {
        EXPECT_EQ(seen.size(), expected.size());
      }
    }
  }
}

TEST_F(Sharded, AFailedLoadAddsNothingAnywhere) {
  const std::string good = csv("good.csv", 30, 1, 4);
  // A shard that is down: nothing begins.
  std::vector<std::string> down = urls();
  down[2] = "host=127.0.0.1 port=1 user=tide dbname=postgres";
  EXPECT_THAT(error_of([&] { ingest_series_csv_sharded(down, "f", good, 2); }),
              HasSubstr("cannot connect"));
  for (int s = 0; s < 3; ++s) EXPECT_EQ(count(s, "f"), -1) << "server " << s;

  ingest_series_csv_sharded(urls(), "f", good);
  std::vector<int64_t> before;
  for (int s = 0; s < 3; ++s) before.push_back(count(s, "f"));
  // An id already in the store (on the last shard): every shard rolls back.
  const std::string clash = csv("clash.csv", 10, 29, 5);
  EXPECT_THAT(error_of([&] { ingest_series_csv_sharded(urls(), "f", clash); }),
              HasSubstr("series_id 29 of the file is already in shard 3 of 3"));
  // Shard 2 refuses a row in the middle of its COPY (a constraint of its own), after shard 1's
  // rows were sent: both roll back.
  servers_[1]->psql("ALTER TABLE f ADD CONSTRAINT not_215 CHECK (series_id <> 215)");
  const std::string middle = csv("middle.csv", 30, 200, 13);  // ids 200-229; 215 on shard 2
  const std::string refused = error_of([&] { ingest_series_csv_sharded(urls(), "f", middle); });
  EXPECT_THAT(refused, HasSubstr("shard 2 of 3"));
  EXPECT_THAT(refused, HasSubstr("not_215"));
  servers_[1]->psql("ALTER TABLE f DROP CONSTRAINT not_215");
  // A bad line far into the file: the first reading finds it, before any server is written.
  std::string bad_text = "series_id,t,value\n";
  for (int i = 0; i < 30; ++i)
    for (int t = 0; t < 20; ++t) bad_text += fmt::format("{},{},{}\n", 100 + i, t, t);
  bad_text += "200,0,oops\n";
  const std::string bad = (dir_ / "bad.csv").string();
  std::ofstream(bad) << bad_text;
  EXPECT_THAT(error_of([&] { ingest_series_csv_sharded(urls(), "f", bad); }),
              HasSubstr("line 602"));
  // The servers in another order, or one missing: refused by name.
  std::vector<std::string> swapped = urls();
  std::swap(swapped[0], swapped[1]);
  EXPECT_THAT(error_of([&] { ingest_series_csv_sharded(swapped, "f", csv("c.csv", 5, 900, 6)); }),
              HasSubstr("is shard 2 of 3 of store"));
  EXPECT_THAT(error_of([&] {
                ingest_series_csv_sharded({urls()[0], urls()[1]}, "f", csv("d.csv", 5, 950, 7));
              }),
              HasSubstr("is shard 1 of 3 of store"));
  EXPECT_THAT(error_of([&] { ingest_series_csv(urls()[0], "f", csv("e.csv", 5, 990, 8)); }),
              HasSubstr("is a shard of a sharded store"));
  // The last shard cannot prepare (its 8 prepared transactions, as scripts/pg-local allows,
  // are taken) once the others have: they roll back what they prepared.
  const auto on_last = [&](const std::string& first, const std::string& second) {
    const auto r = tide::testing::run_command(
        fmt::format("psql -X -q \"{}\" -c \"{}\" -c \"{}\"", servers_[2]->url(), first, second));
    ASSERT_EQ(r.status, 0) << r.out;
  };
  for (int k = 0; k < 8; ++k) on_last("BEGIN", fmt::format("PREPARE TRANSACTION 'held{}'", k));
  EXPECT_THAT(error_of([&] { ingest_series_csv_sharded(urls(), "f", csv("p.csv", 6, 700, 12)); }),
              HasSubstr("maximum number of prepared transactions reached"));
  for (int k = 0; k < 8; ++k) on_last("SELECT 1", fmt::format("ROLLBACK PREPARED 'held{}'", k));
  for (int s = 0; s < 3; ++s) {
    EXPECT_EQ(count(s, "f"), before[static_cast<size_t>(s)]);
    EXPECT_EQ(servers_[s]->psql("SELECT count(*) FROM pg_prepared_xacts"), "0\n");
  }
}

TEST_F(Sharded, AShardRestartedMidEpochLosesAndRepeatsNothing) {
  ingest_series_csv_sharded(urls(), "r", csv("r.csv", 60, 1, 9));
  const auto sharded = store("r", 3000);  // a few series a FETCH
  const WindowSpec spec{.length = 12, .stride = 6};
  const auto expected = expected_windows(read_all(*sharded), spec);
  const std::vector<SeriesRange> all = sharded->shards(1, spec);
  WindowStream stream(sharded->clone(), all[0],
                      {.windows = spec, .batch_size = 8, .shuffle_buffer = 16, .prefetch = 1});
  std::vector<std::pair<int64_t, int64_t>> order, calm;
  const auto seen = read_epoch(stream, 0, expected, &order, [&](int64_t b) {
    if (b == 3) servers_[0]->restart();  // the stream reads shard 1's range now
  });
  EXPECT_GE(stream.reconnects(), 1);
  EXPECT_EQ(seen.size(), expected.size());
  for (const auto& [key, n] : seen) EXPECT_EQ(n, 1) << key.first << "," << key.second;
  read_epoch(stream, 0, expected, &calm);
  EXPECT_EQ(order, calm);
}

// --locality shard: every rank reads one server only, its group of ranks splitting that
// shard's series; together they read every window of the range once.
TEST_F(Sharded, EachRankCanReadOneShardOnly) {
  ingest_series_csv_sharded(urls(), "l", csv("l.csv", 60, 1, 14));
  ingest_series_csv_sharded(urls(), "l", csv("l2.csv", 30, 500, 15));  // two runs a shard
  const auto sharded = store("l");
  const WindowSpec spec{.length = 12, .stride = 6};
  const auto expected = expected_windows(read_all(*sharded), spec);
  size_t in_range = 0;  // the windows of series 0 to 79: a validation tail is left out
  for (const auto& [key, values] : expected) in_range += key.first < 80 ? 1 : 0;
  for (const int ranks : {3, 5}) {
    const auto shares = sharded->local_shares(ranks, spec, 0, 80);
    ASSERT_EQ(shares.size(), static_cast<size_t>(ranks));
    tide::testing::Seen all;
    for (int r = 0; r < ranks; ++r) {
      const auto& [shard, range] = shares[static_cast<size_t>(r)];
      EXPECT_EQ(shard, static_cast<size_t>(r * 3 / ranks)) << ranks << " ranks, rank " << r;
      WindowStream stream(sharded->shard(shard), range, {.windows = spec, .batch_size = 4});
      for (const auto& [key, n] : read_epoch(stream, 0, expected)) {
        EXPECT_LT(key.first, 80);
        all[key] += n;
      }
    }
    EXPECT_EQ(all.size(), in_range) << ranks << " ranks";
    for (const auto& [key, n] : all) EXPECT_EQ(n, 1) << key.first << "," << key.second;
  }
  EXPECT_THAT(error_of([&] { sharded->local_shares(2, spec); }),
              HasSubstr("needs a rank per shard at least: 2 ranks, 3 shards"));
}

TEST_F(Sharded, ClustersGoToTheShardHoldingTheSeries) {
  ingest_series_csv_sharded(urls(), "c", csv("c.csv", 45, 1, 10));
  const auto sharded = store("c");
  std::vector<SeriesCluster> clusters;
  for (const SeriesRecord& r : read_all(*sharded))
    clusters.push_back({.series_id = r.series_id, .cluster = r.series_id % 4, .distance = 0.5});
  sharded->write_clusters(clusters);
  int64_t total = 0;
  for (int s = 0; s < 3; ++s) {
    EXPECT_EQ(count(s, "c_clusters"), count(s, "c")) << "server " << s;
    EXPECT_EQ(servers_[s]->psql("SELECT count(*) FROM c_clusters k LEFT JOIN c USING (series_id) "
                                "WHERE c.series_id IS NULL"),
              "0\n");
    total += count(s, "c_clusters");
  }
  EXPECT_EQ(total, 45);
}

TEST_F(Sharded, AFederatedQuerySeesTheWholeStore) {
  ingest_series_csv_sharded(urls(), "q", csv("q.csv", 50, 1, 11));
  servers_[0]->psql("CREATE DATABASE coord");
  std::string coordinator = servers_[0]->url();
  coordinator.replace(coordinator.find("dbname=postgres"), 15, "dbname=coord");
  federate_store(coordinator, urls(), "q");
  federate_store(coordinator, urls(), "q");  // again: made anew
  const auto query = [&](const std::string& sql) {
    return tide::testing::run_command(
               fmt::format("psql -X -q -A -t -F, \"{}\" -c \"{}\"", coordinator, sql))
        .out;
  };
  std::map<int64_t, int64_t> per_label;
  for (int s = 0; s < 3; ++s) {
    std::istringstream rows(servers_[s]->psql("SELECT label, count(*) FROM q GROUP BY label"));
    for (std::string row; std::getline(rows, row);) {
      const auto bar = row.find('|');
      per_label[std::stoll(row.substr(0, bar))] += std::stoll(row.substr(bar + 1));
    }
  }
  std::string expected;
  for (const auto& [label, n] : per_label) expected += fmt::format("{},{}\n", label, n);
  EXPECT_EQ(query("SELECT label, count(*) FROM q GROUP BY label ORDER BY label"), expected);
  EXPECT_EQ(query("SELECT count(*), count(DISTINCT shard), min(ordinal), max(ordinal) FROM q"),
            "50,3,0,49\n");
  // A table of the coordinator's own (here shard 1's, in its database) is never replaced.
  EXPECT_THAT(error_of([&] { federate_store(servers_[0]->url(), urls(), "q"); }),
              HasSubstr("already exists and is not a federated store"));
  EXPECT_THAT(error_of([&] {
                federate_store(coordinator, {urls()[0], urls()[1]}, "q");
              }),
              HasSubstr("give the --db of each exactly once"));
}

}  // namespace
}  // namespace tide
