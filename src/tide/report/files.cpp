#include "tide/report/files.hpp"

#include <ctime>
#include <filesystem>
#include <fstream>

#include "tide/core/error.hpp"

namespace tide {

std::string local_time_stamp() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
  return stamp;
}

void create_directory(const std::string& path, const std::string& what) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  TIDE_CHECK(!ec, "{}: cannot create the {}: {}", path, what, ec.message());
}

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.flush();
  TIDE_CHECK(out.good(), "{}: write failed", path);
}

}  // namespace tide
