// Series in a real PostgreSQL server (scripts/pg-local, on loopback): ingest by COPY and read
// back exactly, shards, the window stream (order, shuffle, resume, a server restart in the
// middle of an epoch), and the errors a user meets.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <set>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/postgres_server.hpp"
#include "support/silent_server.hpp"
#include "support/testing.hpp"
#include "support/windows.hpp"
#include "tide/data/postgres_source.hpp"
#include "tide/data/timeseries.hpp"
#include "tide/data/window_stream.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using tide::testing::error_of;
using tide::testing::expected_windows;
using tide::testing::PostgresServer;
using tide::testing::read_all;
using tide::testing::read_epoch;
using tide::testing::Seen;

class Postgres : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new PostgresServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tide-pgtest-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Generated series written to CSV and ingested into `table`; returns the series.
  std::vector<LabelledSeries> load(const std::string& table, SeriesOptions o) {
    const std::vector<LabelledSeries> series = generate_series(o);
    const std::string csv = (dir_ / (table + ".csv")).string();
    write_series_csv(csv, series);
    const IngestResult r = ingest_series_csv(server_->url(), table, csv);
    EXPECT_EQ(r.series, o.series);
    EXPECT_EQ(r.rows, o.series * o.length);
    EXPECT_TRUE(r.labelled);
    return series;
  }
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  static PostgresServer* server_;
  fs::path dir_;
};
PostgresServer* Postgres::server_ = nullptr;

TEST_F(Postgres, IngestKeepsEveryValueAndLabel) {
  const auto series = load("series", {.series = 30, .length = 50, .classes = 3, .seed = 1});
  PostgresSource source(server_->url(), "series");
  const SourceSummary s = source.summary();
  EXPECT_EQ(s.series, 30);
  EXPECT_EQ(s.points, 1500);
  EXPECT_EQ(s.min_length, 50);
  EXPECT_EQ(s.labelled, 30);
  const std::vector<SeriesRecord> back = read_all(source);
  ASSERT_EQ(back.size(), 30u);
  // The CSV holds 6 significant digits; the table the float of what the CSV says.
  SeriesCsvReader csv((dir_ / "series.csv").string());
  CsvSeries expected;
  for (size_t i = 0; i < back.size(); ++i) {
    ASSERT_TRUE(csv.next(expected));
    EXPECT_EQ(back[i].ordinal, static_cast<int64_t>(i));
    EXPECT_EQ(back[i].series_id, expected.series_id);
    EXPECT_EQ(back[i].label, series[i].label);
    EXPECT_EQ(back[i].values, expected.values) << "series " << i;
    EXPECT_NEAR(back[i].values[7], series[i].values[7], 1e-5 * (1 + std::abs(series[i].values[7])));
  }
  EXPECT_EQ(server_->psql("SELECT count(*) FROM pg_indexes WHERE tablename = 'series'"), "2\n");
}

TEST_F(Postgres, IngestAppendsAndRefusesAnIdTwice) {
  write("a.csv", "series_id,t,value\n5,0,1\n5,1,2\n7,0,3\n7,1,4\n");
  write("b.csv", "series_id,t,value\n9,0.5,1.5\n9,1.5,2.5\n");
  ingest_series_csv(server_->url(), "s", (dir_ / "a.csv").string());
  const IngestResult r = ingest_series_csv(server_->url(), "s", (dir_ / "b.csv").string());
  EXPECT_FALSE(r.labelled);
  EXPECT_EQ(server_->psql("SELECT string_agg(ordinal || ':' || series_id || ':' || "
                          "coalesce(label, -1) || ':' || t0 || ':' || samples::text, ' ' ORDER "
                          "BY ordinal) FROM s"),
            "0:5:-1:0:{1,2} 1:7:-1:0:{3,4} 2:9:-1:0.5:{1.5,2.5}\n");
  const std::string again = error_of([&] {
    ingest_series_csv(server_->url(), "s", write("c.csv", "series_id,t,value\n11,0,1\n7,0,1\n"));
  });
  EXPECT_THAT(again, HasSubstr("c.csv"));
  EXPECT_THAT(again, HasSubstr("(series_id)=(7) already exists"));
  EXPECT_EQ(server_->psql("SELECT count(*) FROM s"), "3\n");  // 11 was not added either
}

TEST_F(Postgres, MalformedCsvNamesTheLineAndAddsNothing) {
  write("good.csv", "1,0,1.0,0\n1,1,2.0,0\n");
  ingest_series_csv(server_->url(), "m", (dir_ / "good.csv").string());
  const auto error = [&](const std::string& text) {
    return error_of([&] { ingest_series_csv(server_->url(), "m", write("bad.csv", text)); });
  };
  EXPECT_THAT(error("series_id,t,value\n2,0,1\n2,1,abc\n"),
              HasSubstr("bad.csv: line 3, column 3 (value): 'abc' is not a finite number"));
  EXPECT_THAT(error("series_id,t,value\n2,0,1\n2,1\n"), HasSubstr("bad.csv: line 3: 2 columns"));
  EXPECT_THAT(error("series_id,t,value\n2,0,1\n2,0,1\n"),
              HasSubstr("line 3: t = 0 in series 2 does not increase"));
  EXPECT_THAT(error("series_id,t,value\n2,0,1\n3,0,1\n2,1,1\n"),
              HasSubstr("line 4: series 2 appears again"));
  EXPECT_THAT(error("series_id,t,value,label\n2,0,1,0\n2,1,1,1\n"),
              HasSubstr("line 3: label 1 in series 2, whose first row (line 2) has label 0"));
  EXPECT_THAT(error("id,t,value\n2,0,1\n"),
              HasSubstr("line 1: the header has no column 'series_id'"));
  EXPECT_THAT(error("series_id,t,value\n2.5,0,1\n"), HasSubstr("'2.5' is not an integer id"));
  EXPECT_THAT(error("series_id,t,value\n2,0,1e39\n"), HasSubstr("within float range"));
  EXPECT_THAT(error("series_id,t,value\n2,0,nan\n"), HasSubstr("'nan' is not a finite number"));
  EXPECT_THAT(error(""), HasSubstr("bad.csv: the file is empty"));
  EXPECT_THAT(error_of([&] { ingest_series_csv(server_->url(), "m", "/nonexistent.csv"); }),
              HasSubstr("/nonexistent.csv: cannot open"));
  EXPECT_EQ(server_->psql("SELECT count(*) FROM m"), "1\n");
}

TEST_F(Postgres, UnreachableServerAndMissingTable) {
  const std::string nobody = "host=127.0.0.1 port=1 user=tide password=secret dbname=postgres";
  try {
    PostgresSource source(nobody, "series");
    FAIL() << "connected to port 1";
  } catch (const SourceUnavailable& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot connect to PostgreSQL (host=127.0.0.1 port=1"));
    EXPECT_THAT(e.what(), HasSubstr("password=***"));
    EXPECT_THAT(e.what(), ::testing::Not(HasSubstr("secret")));
  }
  EXPECT_THAT(error_of([&] { PostgresSource(server_->url(), "absent"); }),
              HasSubstr("table \"absent\" (" + server_->url() +
                        ") does not exist; load series into it with `tide timeseries ingest"));
  server_->psql("CREATE TABLE other (id int)");
  EXPECT_THAT(error_of([&] { PostgresSource(server_->url(), "other"); }),
              HasSubstr("is not a table of series: it has no column"));
  EXPECT_EQ(redact_connection("postgresql://tide:pw@db:5432/x"), "postgresql://tide:***@db:5432/x");
  EXPECT_EQ(redact_connection("postgresql://db:5432/x"), "postgresql://db:5432/x");
  EXPECT_EQ(redact_connection("host=a password = 's e\\'cret' user=b"),
            "host=a password = *** user=b");
  EXPECT_EQ(redact_connection("password=x"), "password=***");
  EXPECT_EQ(redact_connection("host=a mypassword=x"), "host=a mypassword=x");
}

TEST_F(Postgres, NamesWithQuotesAreIdentifiersNotSql) {
  const std::string table = "we\"ird'name; DROP TABLE x";
  server_->psql("CREATE TABLE x (id int)");
  load(table, {.series = 4, .length = 10, .classes = 2, .seed = 2});
  PostgresSource source(server_->url(), table);
  EXPECT_EQ(read_all(source).size(), 4u);
  source.write_clusters({{.series_id = 0, .cluster = 1, .distance = 0.5},
                         {.series_id = 1, .cluster = 0, .distance = 0.25}});
  EXPECT_EQ(server_->psql("SELECT count(*) FROM x"), "0\n");  // still there
  EXPECT_EQ(server_->psql("SELECT string_agg(series_id || ':' || cluster || ':' || distance, "
                          "' ' ORDER BY series_id) FROM \\\"we\\\"\\\"ird'name; DROP TABLE "
                          "x_clusters\\\""),
            "0:1:0.5 1:0:0.25\n");
}

TEST_F(Postgres, ShardsCoverEverySeriesWithBalancedWindows) {
  // Lengths 10, 20, ..., 200: windows of 10 every 5 points are 1, 3, 5, ... 39.
  std::string csv = "series_id,t,value\n";
  for (int i = 0; i < 20; ++i)
    for (int t = 0; t < 10 * (i + 1); ++t) csv += fmt::format("{},{},{}\n", i, t, t % 7);
  ingest_series_csv(server_->url(), "var", write("var.csv", csv));
  PostgresSource source(server_->url(), "var");
  const WindowSpec spec{.length = 10, .stride = 5};
  int64_t total = 0;
  for (int i = 0; i < 20; ++i) total += spec.windows_of(10 * (i + 1));
  for (const int parts : {1, 2, 3, 7, 25}) {
    const std::vector<SeriesRange> shards = source.shards(parts, spec);
    ASSERT_EQ(shards.size(), static_cast<size_t>(parts));
    EXPECT_EQ(shards.front().begin, 0);
    EXPECT_EQ(shards.back().end, 20);
    int64_t windows = 0, most = 0;
    for (size_t p = 0; p < shards.size(); ++p) {
      if (p > 0) {
        EXPECT_EQ(shards[p].begin, shards[p - 1].end);
      }
      int64_t expected = 0;
      for (int64_t i = shards[p].begin; i < shards[p].end; ++i) {
        expected += spec.windows_of(10 * (i + 1));
      }
      EXPECT_EQ(shards[p].windows, expected) << parts << " parts, part " << p;
      EXPECT_EQ(shards[p].series, shards[p].end - shards[p].begin);
      windows += expected;
      most = std::max(most, expected);
    }
    EXPECT_EQ(windows, total);
    // No part is more than one series' windows (39) above an equal share.
    EXPECT_LE(most, total / parts + 39) << parts;
  }
  EXPECT_EQ(source.shards(2, {.length = 500}).at(0).windows, 0);
  // Within a range of ordinals: series 15 to 19 only.
  const std::vector<SeriesRange> tail = source.shards(2, spec, 15, 20);
  EXPECT_EQ(tail[0].begin, 15);
  EXPECT_EQ(tail[1].end, 20);
  EXPECT_EQ(tail[0].windows + tail[1].windows, 31 + 33 + 35 + 37 + 39);
}

TEST_F(Postgres, WindowStreamShufflesResumesAndCoversEachWindowOnce) {
  load("w", {.series = 40, .length = 64, .classes = 4, .seed = 3});
  auto source = std::make_unique<PostgresSource>(server_->url(), "w", 2000);  // ~2 rows a FETCH
  const std::vector<SeriesRecord> all = read_all(*source);
  const WindowSpec spec{.length = 16, .stride = 8};  // 7 windows a series
  const auto expected = expected_windows(all, spec);
  const std::vector<SeriesRange> shards = source->shards(2, spec);
  ASSERT_EQ(shards[1].windows, 140);

  // In order, no shuffle: (series, offset) ascending, batches of 32 and a short last one.
  WindowStream plain(source->clone(), shards[1], {.windows = spec, .batch_size = 32});
  EXPECT_EQ(plain.batches_per_epoch(), 5);
  std::vector<std::pair<int64_t, int64_t>> order;
  const Seen seen = read_epoch(plain, 0, expected, &order);
  EXPECT_EQ(seen.size(), 140u);
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  EXPECT_EQ(order.front(), (std::pair<int64_t, int64_t>{20, 0}));

  // Shuffled, 4 batches with the last taking the rest: each window once, a new order each
  // epoch, the same order for the same epoch, and a resumed epoch is the tail of the full one.
  const WindowStreamOptions o{.windows = spec,
                              .batch_size = 32,
                              .batches = 4,
                              .shuffle_buffer = 50,
                              .seed = 9,
                              .prefetch = 1};
  WindowStream shuffled(source->clone(), shards[1], o);
  std::vector<std::pair<int64_t, int64_t>> e0, e0_again, e1, resumed;
  const Seen s0 = read_epoch(shuffled, 0, expected, &e0);
  EXPECT_EQ(s0.size(), 140u);
  for (const auto& [key, n] : s0) EXPECT_EQ(n, 1);
  read_epoch(shuffled, 1, expected, &e1);
  read_epoch(shuffled, 0, expected, &e0_again);
  EXPECT_EQ(e0, e0_again);
  EXPECT_NE(e0, e1);
  EXPECT_FALSE(std::is_sorted(e0.begin(), e0.end()));
  read_epoch(shuffled, 0, expected, &resumed, nullptr, 2);
  EXPECT_EQ(resumed, std::vector(e0.begin() + 64, e0.end()));
}

TEST_F(Postgres, ServerRestartMidEpochSkipsAndRepeatsNothing) {
  load("r", {.series = 60, .length = 100, .classes = 4, .seed = 4});
  auto source = std::make_unique<PostgresSource>(server_->url(), "r", 3000);
  const WindowSpec spec{.length = 25};
  const auto expected = expected_windows(read_all(*source), spec);
  const std::vector<SeriesRange> shards = source->shards(1, spec);
  WindowStream stream(source->clone(), shards[0],
                      {.windows = spec, .batch_size = 8, .shuffle_buffer = 16, .prefetch = 1});
  std::vector<std::pair<int64_t, int64_t>> order, calm;
  const Seen seen = read_epoch(stream, 0, expected, &order, [&](int64_t b) {
    if (b == 5) server_->restart();  // the stream holds an open cursor at series ~10 of 60
  });
  EXPECT_GE(stream.reconnects(), 1);
  EXPECT_EQ(seen.size(), 240u);
  for (const auto& [key, n] : seen) EXPECT_EQ(n, 1) << key.first << "," << key.second;
  read_epoch(stream, 0, expected, &calm);
  EXPECT_EQ(order, calm);  // the same epoch as without the restart
}

TEST_F(Postgres, StreamGivesUpAfterRetrySeconds) {
  load("g", {.series = 8, .length = 20, .classes = 2, .seed = 5});
  PostgresSource source(server_->url(), "g");
  const std::vector<SeriesRange> shards = source.shards(1, {.length = 10});
  std::string url = server_->url();
  url.replace(url.find("port="), url.find(' ', url.find("port=")) - url.find("port="), "port=1");
  // A source whose server went away for good: the stream retries, then stops with the reason.
  struct Gone : TimeSeriesSource {
    std::string url;
    std::string describe() const override { return "gone"; }
    SourceSummary summary() override { return {}; }
    std::vector<SeriesRange> shards(int, const WindowSpec&, int64_t, int64_t) override {
      return {};
    }
    std::unique_ptr<SeriesCursor> open(int64_t, int64_t) override {
      return PostgresSource(url, "g").open(0, 8);
    }
    std::unique_ptr<TimeSeriesSource> clone() const override { return nullptr; }
    void write_clusters(const std::vector<SeriesCluster>&) override {}
  };
  auto gone = std::make_unique<Gone>();
  gone->url = url;
  WindowStream stream(std::move(gone), shards[0],
                      {.windows = {.length = 10}, .batch_size = 4, .retry_seconds = 0.5});
  stream.start_epoch(0);
  EXPECT_THAT(error_of([&] { stream.next(); }),
              HasSubstr("gone: gave up reconnecting after 0 s: cannot connect to PostgreSQL"));
}

// Passwords never reach a message, in every form libpq reads them.
TEST(PostgresRedaction, PasswordsInEveryFormAreMasked) {
  for (const auto& [given, want] : std::vector<std::pair<std::string, std::string>>{
           {"postgresql://u:secret@h/db", "postgresql://u:***@h/db"},
           {"postgresql://u:se@cret@h/db", "postgresql://u:***@h/db"},
           {"postgresql://u@h/db?password=secret", "postgresql://u@h/db?password=***"},
           {"postgresql://u@h/db?sslmode=off&password=secret&application_name=x",
            "postgresql://u@h/db?sslmode=off&password=***&application_name=x"},
           {"postgres://u:pw1@h:5/db?password=pw2", "postgres://u:***@h:5/db?password=***"},
           {"password=secret", "password=***"},
           {"host=h\npassword=secret user=u", "host=h\npassword=*** user=u"},
           {"host=h\tpassword = 'a b\\'c' port=5", "host=h\tpassword = *** port=5"},
           {"host=h password=a password=b", "host=h password=*** password=***"},
           {"host=h mypassword=x", "host=h mypassword=x"},
       }) {
    EXPECT_EQ(redact_connection(given), want) << given;
    EXPECT_THAT(redact_connection(given), Not(HasSubstr("secret"))) << given;
  }
  // libpq's own messages may quote the string: the password is masked in them too.
  EXPECT_EQ(redact_message("missing \"=\" after \"secret\" in connection info string",
                           "host=h password=secret"),
            "missing \"=\" after \"***\" in connection info string");
}

TEST(PostgresTimeout, ConnectTimeoutIsAddedUnlessGiven) {
  EXPECT_EQ(with_connect_timeout("host=h dbname=d", 3), "host=h dbname=d connect_timeout=3");
  EXPECT_EQ(with_connect_timeout("", 10), "connect_timeout=10");
  EXPECT_EQ(with_connect_timeout("host=h", 0.5), "host=h connect_timeout=2");  // libpq's least
  EXPECT_EQ(with_connect_timeout("host=h", 2.5), "host=h connect_timeout=3");
  EXPECT_EQ(with_connect_timeout("postgresql://h/db", 4), "postgresql://h/db?connect_timeout=4");
  EXPECT_EQ(with_connect_timeout("postgresql://h/db?sslmode=off", 4),
            "postgresql://h/db?sslmode=off&connect_timeout=4");
  EXPECT_EQ(with_connect_timeout("host=h connect_timeout=60", 4), "host=h connect_timeout=60");
}

double seconds_of(const std::function<void()>& f, std::string& error) {
  const auto start = std::chrono::steady_clock::now();
  error = error_of(f);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(PostgresTimeout, ASilentServerIsGivenUpInTheConnectTimeout) {
  const tide::testing::SilentServer server;
  const std::string db = server.connection("hunter22");
  const fs::path csv = fs::temp_directory_path() / ("tide-silent-" + std::to_string(::getpid()));
  write_series_csv(csv.string(), generate_series({.series = 2, .length = 4, .classes = 1}));
  // Reading and ingesting at once: each waits out libpq's shortest timeout, 2 s.
  std::string read_error, ingest_error;
  auto reading = std::async(std::launch::async, [&] {
    return seconds_of([&] { PostgresSource(db, "series", 16e6, 2); }, read_error);
  });
  const double ingest_s =
      seconds_of([&] { ingest_series_csv(db, "series", csv.string(), 2); }, ingest_error);
  const double read_s = reading.get();
  fs::remove(csv);
  for (const auto& [s, error] : {std::pair{read_s, read_error}, {ingest_s, ingest_error}}) {
    EXPECT_LT(s, 5) << error;
    EXPECT_THAT(error, HasSubstr("cannot connect to PostgreSQL (host=127.0.0.1"));
    EXPECT_THAT(error, HasSubstr("password=***"));
    EXPECT_THAT(error, Not(HasSubstr("hunter22")));
  }
}

}  // namespace
}  // namespace tide
