// Synthetic labelled series: deterministic by seed and index, balanced classes, each shape
// recognisable without noise, and a CSV that the CSV reader takes back.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"
#include "tide/data/csv.hpp"
#include "tide/data/timeseries.hpp"

namespace tide {
namespace {

using ::testing::HasSubstr;
using tide::testing::error_of;

TEST(TimeSeries, SeriesAreAFunctionOfSeedAndIndex) {
  const auto a = generate_series({.series = 10, .length = 50, .classes = 4, .seed = 3});
  const auto b = generate_series({.series = 20, .length = 50, .classes = 4, .seed = 3});
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].values, b[i].values) << i;  // more series, the first ones unchanged
    EXPECT_EQ(a[i].label, static_cast<int64_t>(i % 4));
  }
  const auto c = generate_series({.series = 10, .length = 50, .classes = 4, .seed = 4});
  EXPECT_NE(a[0].values, c[0].values);
}

TEST(TimeSeries, ShapesWithoutNoiseOrTrend) {
  const auto s = generate_series(
      {.series = 8, .length = 400, .classes = 8, .noise = 0, .trend = 0, .seed = 1});
  // Square: two levels, offset +- amplitude.
  std::vector<double> levels = s[1].values;
  std::sort(levels.begin(), levels.end());
  levels.erase(std::unique(levels.begin(), levels.end(),
                           [](double x, double y) { return std::abs(x - y) < 1e-12; }),
               levels.end());
  EXPECT_EQ(levels.size(), 2u);
  // Steps: four levels.
  levels = s[7].values;
  std::sort(levels.begin(), levels.end());
  levels.erase(std::unique(levels.begin(), levels.end(),
                           [](double x, double y) { return std::abs(x - y) < 1e-12; }),
               levels.end());
  EXPECT_EQ(levels.size(), 4u);
  // Bursts: quiet (exactly the offset, the most common value) for most of each period.
  std::map<double, int> seen;
  for (const double v : s[4].values) ++seen[v];
  const double offset =
      std::max_element(seen.begin(), seen.end(), [](const auto& a, const auto& b) {
        return a.second < b.second;
      })->first;
  const auto quiet = std::count_if(s[4].values.begin(), s[4].values.end(),
                                   [&](double v) { return std::abs(v - offset) < 1e-12; });
  EXPECT_GT(quiet, 250);
  // Sawtooth: rises steadily except at its 3 to 5 resets (and one more at a boundary).
  int drops = 0;
  for (size_t t = 1; t < s[2].values.size(); ++t) drops += s[2].values[t] < s[2].values[t - 1];
  EXPECT_GE(drops, 3);
  EXPECT_LE(drops, 6);
  // Every series has amplitude 0.5 to 1.5: its range is between 1 and 3 times that.
  for (const auto& series : s) {
    const auto [lo, hi] = std::minmax_element(series.values.begin(), series.values.end());
    EXPECT_GT(*hi - *lo, 0.5) << series.label;
    EXPECT_LT(*hi - *lo, 3.01) << series.label;
  }
}

TEST(TimeSeries, CsvRoundTripAndBadOptions) {
  const auto s = generate_series({.series = 6, .length = 5, .classes = 3, .seed = 2});
  const std::string path =
      (std::filesystem::path(::testing::TempDir()) / "tide_series.csv").string();
  write_series_csv(path, s);
  const CsvTable t = read_csv(path);
  EXPECT_EQ(t.names, (std::vector<std::string>{"series_id", "t", "value", "label"}));
  ASSERT_EQ(t.rows(), 30);
  EXPECT_EQ(t.column("series_id")[7], 1);
  EXPECT_EQ(t.column("t")[7], 2);
  EXPECT_NEAR(t.column("value")[7], s[1].values[2], 1e-5 * (1 + std::abs(s[1].values[2])));
  EXPECT_EQ(t.column("label")[29], 2);
  // Generated one series at a time: the same file.
  const std::string streamed = path + ".streamed";
  generate_series_csv(streamed, {.series = 6, .length = 5, .classes = 3, .seed = 2});
  const auto bytes = [](const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  EXPECT_EQ(bytes(streamed), bytes(path));
  // The streaming reader gives the series back, 6 significant digits each.
  SeriesCsvReader reader(path);
  CsvSeries one;
  for (const LabelledSeries& expected : s) {
    ASSERT_TRUE(reader.next(one));
    EXPECT_EQ(one.label, expected.label);
    ASSERT_EQ(one.values.size(), expected.values.size());
    for (size_t i = 0; i < one.values.size(); ++i)
      EXPECT_NEAR(one.values[i], expected.values[i], 1e-5 * (1 + std::abs(expected.values[i])));
  }
  EXPECT_FALSE(reader.next(one));
  EXPECT_EQ(reader.rows(), 30);
  EXPECT_THAT(error_of([] { generate_series({.classes = 9}); }), HasSubstr("--classes"));
  EXPECT_THAT(error_of([] { generate_series({.length = 1}); }), HasSubstr("--length"));
  // --periods 4,4: a noiseless square wave changes level 8 times (4 periods), whatever its
  // phase; with 2,2, 4 times.
  for (const double periods : {4.0, 2.0}) {
    const auto sq = generate_series({.series = 12,
                                     .length = 400,
                                     .classes = 2,
                                     .noise = 0,
                                     .trend = 0,
                                     .min_periods = periods,
                                     .max_periods = periods});
    for (size_t i = 1; i < sq.size(); i += 2) {
      int changes = 0;
      for (size_t t = 1; t < sq[i].values.size(); ++t)
        changes += std::abs(sq[i].values[t] - sq[i].values[t - 1]) > 1e-9;
      EXPECT_NEAR(changes, 2 * periods, 1) << "series " << i;
    }
  }
  EXPECT_THAT(error_of([] { generate_series({.min_periods = 5, .max_periods = 3}); }),
              HasSubstr("--periods must be MIN,MAX with 0 < MIN <= MAX, got 5,3"));
  EXPECT_THAT(error_of([] { write_series_csv("/nonexistent/x.csv", {}); }),
              HasSubstr("/nonexistent/x.csv: cannot create"));
}

// Every value the series reader cannot hold (a float for values, a finite double for t,
// integers for ids and labels) is refused by file, line and column, with or without a header.
TEST(TimeSeries, CsvReaderRefusesValuesItCannotHoldByPlace) {
  const std::string path =
      (std::filesystem::path(::testing::TempDir()) / "tide_series_bad.csv").string();
  struct Case {
    std::string row, column;
  };
  for (const Case& c : std::vector<Case>{{"0,1,1e39,0", "column 3 (value): '1e39'"},
                                         {"0,1,-3.5e38,0", "column 3 (value): '-3.5e38'"},
                                         {"0,1,1e999,0", "column 3 (value): '1e999'"},
                                         {"0,1,nan,0", "column 3 (value): 'nan'"},
                                         {"0,1,-inf,0", "column 3 (value): '-inf'"},
                                         {"0,inf,1,0", "column 2 (t): 'inf'"},
                                         {"0,1e400,1,0", "column 2 (t): '1e400'"},
                                         {"0,nan,1,0", "column 2 (t): 'nan'"},
                                         {"1e3,1,1,0", "column 1 (series_id): '1e3'"},
                                         {"99999999999999999999,1,1,0", "column 1 (series_id)"},
                                         {"0,1,1,-1", "column 4 (label): '-1'"},
                                         {"0,1,1,1e99", "column 4 (label): '1e99'"}}) {
    for (const bool header : {true, false}) {
      std::ofstream(path) << (header ? "series_id,t,value,label\n" : "") << "0,0,1,0\n"
                          << c.row << "\n";
      EXPECT_THAT(
          error_of([&] {
            SeriesCsvReader reader(path);
            CsvSeries s;
            while (reader.next(s)) {
            }
          }),
          HasSubstr(fmt::format("tide_series_bad.csv: line {}, {}", header ? 3 : 2, c.column)))
          << c.row << (header ? " after a header" : "");
    }
  }
  // A directory, and a read that fails with EIO (/proc/self/mem at offset 0).
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "tide_series_dir";
  std::filesystem::create_directories(dir);
  EXPECT_THAT(error_of([&] { SeriesCsvReader reader(dir.string()); }),
              HasSubstr("tide_series_dir: read failed after line 0: Is a directory"));
  const std::filesystem::path eio = dir / "eio.csv";
  std::filesystem::remove(eio);
  std::filesystem::create_symlink("/proc/self/mem", eio);
  EXPECT_THAT(error_of([&] { SeriesCsvReader reader(eio.string()); }),
              HasSubstr("eio.csv: read failed after line 0: Input/output error"));
}

}  // namespace
}  // namespace tide
