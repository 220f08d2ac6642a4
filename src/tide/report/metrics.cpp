#include "tide/report/metrics.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tide/core/error.hpp"

namespace tide {
namespace {

// A figure the row does not have (NaN) is an empty cell.
std::string cell(double v) {
  return std::isnan(v) ? std::string() : fmt::format("{:.6g}", v);
}

}  // namespace

size_t metrics_columns_of(const std::string& header) {
  for (const size_t n : {kMetricsColumns.size(), kMetricsFirstColumns})
    if (header ==
        fmt::format("{}", fmt::join(kMetricsColumns.begin(), kMetricsColumns.begin() + n, ",")))
      return n;
  return 0;
}

MetricsWriter::MetricsWriter(const std::string& path, int64_t resume_step) : path_(path) {
  std::vector<std::string> kept;
  if (resume_step >= 0) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    const size_t columns = metrics_columns_of(line);
    while (columns > 0 && std::getline(in, line)) {
      // A row that does not start with a step or has another number of fields than the
      // header (a torn last line) is dropped. A row of a file written before rmse and r2
      // existed gets their empty cells.
      const int64_t step = std::strtoll(line.c_str(), nullptr, 10);
      const auto fields = static_cast<size_t>(std::count(line.begin(), line.end(), ',') + 1);
      if (line.empty() || !std::isdigit(static_cast<unsigned char>(line[0])) ||
          step > resume_step || fields != columns)
        continue;
      kept.push_back(line + std::string(kMetricsColumns.size() - columns, ','));
    }
  }
  file_ = std::fopen(path.c_str(), "w");
  TIDE_CHECK(file_ != nullptr, "{}: cannot create: {}", path, std::strerror(errno));
  fmt::print(file_, "{}\n", fmt::join(kMetricsColumns, ","));
  for (const std::string& line : kept) fmt::print(file_, "{}\n", line);
  TIDE_CHECK(std::fflush(file_) == 0, "{}: write failed: {}", path, std::strerror(errno));
}

MetricsWriter::~MetricsWriter() {
  std::fclose(file_);
}

void MetricsWriter::write(const MetricsRow& r) {
  fmt::print(file_, "{},{:.4f},{},{:.6g},{},{:.6g},{:.1f},{:.3f},{},{}\n", r.step, r.epoch, r.split,
             r.loss, cell(r.accuracy), r.lr, r.samples_per_sec, r.wall_s, cell(r.rmse), cell(r.r2));
  TIDE_CHECK(std::fflush(file_) == 0, "{}: write failed: {}", path_, std::strerror(errno));
}

}  // namespace tide
