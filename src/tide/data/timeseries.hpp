// Labelled synthetic time series, for demonstrations and tests of unsupervised
// classification: each class is a shape (sine, square, sawtooth, chirp, bursts, triangle,
// damped oscillation, steps), and each series of a class has its own random phase,
// amplitude, linear trend and noise.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <unordered_set>
#include <vector>

namespace tide {

struct SeriesOptions {
  int64_t series = 100;  // how many
  int64_t length = 128;  // points per series
  int64_t classes = 4;   // shapes used, the first `classes` of series_shapes()
  double noise = 0.1;    // standard deviation of Gaussian noise, relative to amplitude 1
  double trend = 0.5;    // the linear trend's largest total rise over a series (either sign)
  // Periods over a series, uniform in [min_periods, max_periods] (the chirp's at its start).
  double min_periods = 3, max_periods = 5;
  uint64_t seed = 0;
};

// The shapes in class order: sine, square, sawtooth, chirp, bursts, triangle, damped, steps.
const std::vector<std::string>& series_shapes();

struct LabelledSeries {
  int64_t label = 0;  // the shape's index
  std::vector<double> values;
};

// Series i has class i % classes; its randomness is RngStream(seed, data, {i}), so any one
// series can be made alone. Throws naming the flag for out-of-range options.
std::vector<LabelledSeries> generate_series(const SeriesOptions& options);

// Writes long-format CSV: a header `series_id,t,value,label` and one row per point.
void write_series_csv(const std::string& path, const std::vector<LabelledSeries>& series);
// The same for generate_series(options), one series at a time: files larger than memory.
void generate_series_csv(const std::string& path, const SeriesOptions& options);

// One series of a long-format CSV file.
struct CsvSeries {
  int64_t series_id = 0;
  int64_t label = -1;  // -1 when the file has no label column
  double t0 = 0;       // t of the first point
  int64_t line = 0;    // the line of its first point
  std::vector<float> values;
};

// Reads long-format CSV, `series_id,t,value[,label]`, one series at a time: a header naming
// these columns (in any order, other columns ignored) or no header and this order. A
// series' rows must be consecutive and in increasing t; ids are integers, values finite
// and within float range, a series' label the same on every row. Memory is one series
// plus the set of ids seen. Errors name the file, line and column.
class SeriesCsvReader {
 public:
  explicit SeriesCsvReader(std::string path);
  ~SeriesCsvReader();
  SeriesCsvReader(const SeriesCsvReader&) = delete;
  SeriesCsvReader& operator=(const SeriesCsvReader&) = delete;

  // The next series; false at the end of the file. The header is read on construction.
  bool next(CsvSeries& out);
  bool labelled() const { return label_column_ >= 0; }
  int64_t rows() const { return rows_; }

 private:
  struct Row {
    int64_t series_id = 0;
    double t = 0;
    float value = 0;
    int64_t label = -1;
  };
  bool read_row(Row& row);  // false at the end of the file

  std::string path_;
  std::FILE* file_ = nullptr;
  char* buffer_ = nullptr;
  size_t capacity_ = 0;
  int64_t line_ = 0, rows_ = 0;
  int id_column_ = 0, t_column_ = 1, value_column_ = 2, label_column_ = -1;
  int columns_ = 0;
  Row pending_;
  bool has_pending_ = false;
  std::unordered_set<int64_t> seen_;
};

}  // namespace tide
