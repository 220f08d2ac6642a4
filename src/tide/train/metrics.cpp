#include "tide/train/metrics.hpp"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "tide/core/error.hpp"

namespace tide {

MetricsWriter::MetricsWriter(const std::string& path) : path_(path) {
  file_ = std::fopen(path.c_str(), "w");
  TIDE_CHECK(file_ != nullptr, "{}: cannot create: {}", path, std::strerror(errno));
  fmt::print(file_, "step,epoch,split,loss,accuracy,lr,samples_per_sec,wall_s\n");
  std::fflush(file_);
}

MetricsWriter::~MetricsWriter() {
  std::fclose(file_);
}

void MetricsWriter::write(const MetricsRow& r) {
  fmt::print(file_, "{},{:.4f},{},{:.6g},{:.6g},{:.6g},{:.1f},{:.3f}\n", r.step, r.epoch, r.split,
             r.loss, r.accuracy, r.lr, r.samples_per_sec, r.wall_s);
  TIDE_CHECK(std::fflush(file_) == 0, "{}: write failed: {}", path_, std::strerror(errno));
}

}  // namespace tide
