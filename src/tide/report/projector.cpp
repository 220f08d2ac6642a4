#include "tide/report/projector.hpp"

#include <filesystem>

#include <fmt/format.h>

#include "tide/core/error.hpp"
#include "tide/report/files.hpp"

namespace tide {

void write_projector(const std::string& dir, const std::string& name, const double* values,
                     int64_t points, int64_t dims, const std::vector<std::string>& columns,
                     const std::vector<std::vector<std::string>>& metadata) {
  namespace fs = std::filesystem;
  TIDE_CHECK(points >= 0 && dims >= 1, "the projector's {}: {} points of {} values", name, points,
             dims);
  TIDE_CHECK(static_cast<int64_t>(metadata.size()) == points,
             "the projector's {}: {} points but {} metadata rows", name, points, metadata.size());
  std::string tensor;
  for (int64_t i = 0; i < points; ++i) {
    for (int64_t j = 0; j < dims; ++j)
      tensor += fmt::format("{}{}", j > 0 ? "\t" : "", values[i * dims + j]);
    tensor += '\n';
  }
  auto row = [&](const std::vector<std::string>& fields) {
    TIDE_CHECK(fields.size() == columns.size(),
               "the projector's {}: a row of {} fields for {} columns", name, fields.size(),
               columns.size());
    std::string line;
    for (size_t k = 0; k < fields.size(); ++k) {
      TIDE_CHECK(fields[k].find_first_of("\t\n\r") == std::string::npos,
                 "the projector's {}: metadata '{}' holds a tab or a line break", name, fields[k]);
      line += (k > 0 ? "\t" : "") + fields[k];
    }
    return line + '\n';
  };
  // TensorBoard reads a single column without a header.
  std::string meta = columns.size() > 1 ? row(columns) : "";
  for (const auto& fields : metadata) meta += row(fields);
  const std::string tensor_file = name + ".tsv", metadata_file = name + "_metadata.tsv";
  write_text_file((fs::path(dir) / tensor_file).string(), tensor);
  write_text_file((fs::path(dir) / metadata_file).string(), meta);
  write_text_file(
      (fs::path(dir) / "projector_config.pbtxt").string(),
      fmt::format("embeddings {{\n  tensor_name: \"{}\"\n  tensor_path: \"{}\"\n"
                  "  metadata_path: \"{}\"\n  tensor_shape: {}\n  tensor_shape: {}\n}}\n",
                  name, tensor_file, metadata_file, points, dims));
}

}  // namespace tide
