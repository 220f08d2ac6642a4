// metrics.csv: one row per logged training window and per evaluation.
#pragma once

#include <array>
#include <cstdio>
#include <limits>
#include <string>

namespace tide {

// The columns of metrics.csv, in order. rmse and r2 (a regression's test rows) came later and
// are last, so a file of the first eight columns still reads; a figure a row does not have
// (accuracy of a regression, rmse of a classifier or of a training window) is an empty cell.
inline constexpr std::array<const char*, 10> kMetricsColumns = {
    "step", "epoch", "split", "loss", "accuracy", "lr", "samples_per_sec", "wall_s", "rmse", "r2"};
inline constexpr size_t kMetricsFirstColumns = 8;  // the columns before rmse and r2

// How many columns the header line of a metrics.csv declares: kMetricsColumns.size(), or
// kMetricsFirstColumns for a file written before rmse and r2; 0 for a line that is neither.
// Every row of a file has as many fields as its header (a torn last line may not).
size_t metrics_columns_of(const std::string& header);

struct MetricsRow {
  int64_t step = 0;
  double epoch = 0;   // fractional: 1.5 is half-way through the second epoch
  std::string split;  // "train" or "test"
  double loss = 0;
  double accuracy = 0;
  double lr = 0;
  double samples_per_sec = 0;
  double wall_s = 0;  // since the start of training
  double rmse = std::numeric_limits<double>::quiet_NaN();
  double r2 = std::numeric_limits<double>::quiet_NaN();
};

class MetricsWriter {
 public:
  // Creates (truncates) `path` and writes the header; throws naming the path on failure.
  // With `resume_step` >= 0, keeps the rows of an existing file up to that step instead
  // (a run resumed from a checkpoint of that step) and appends after them.
  explicit MetricsWriter(const std::string& path, int64_t resume_step = -1);
  ~MetricsWriter();
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;
  // Appends a row and flushes it, so the file is current while training runs.
  void write(const MetricsRow& row);

 private:
  std::string path_;
  std::FILE* file_;
};

}  // namespace tide
