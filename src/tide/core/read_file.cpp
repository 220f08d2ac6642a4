#include "tide/core/read_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "tide/core/error.hpp"

namespace tide {

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TIDE_CHECK(in, "{}: cannot open: {}", path, std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  TIDE_CHECK(!in.bad(), "{}: read failed: {}", path, std::strerror(errno));
  return bytes;
}

}  // namespace tide
