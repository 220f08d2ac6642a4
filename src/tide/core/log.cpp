#include "tide/core/log.hpp"

#include <chrono>
#include <cstdio>

namespace tide {
namespace {

std::string& log_prefix() {
  static std::string prefix;
  return prefix;
}

}  // namespace

void set_log_prefix(std::string prefix) {
  log_prefix() = prefix.empty() ? std::string() : " " + prefix;
}

void log_write(std::string_view level, std::string_view message) {
  static const auto start = std::chrono::steady_clock::now();
  const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // One fmt::print call per line keeps lines from different threads whole.
  fmt::print(stderr, "[{:8.2f}s{} {}] {}\n", t, log_prefix(), level, message);
}

}  // namespace tide
