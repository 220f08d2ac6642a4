#include "tide/core/log.hpp"

#include <chrono>
#include <cstdio>

namespace tide {

void log_write(std::string_view level, std::string_view message) {
  static const auto start = std::chrono::steady_clock::now();
  const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // One fmt::print call per line keeps lines from different threads whole.
  fmt::print(stderr, "[{:8.2f}s {}] {}\n", t, level, message);
}

}  // namespace tide
