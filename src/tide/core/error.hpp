// Errors: the library throws tide::Error and never exits; only the CLI catches.
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace tide {

// An error a user can cause or meet: bad input, a missing file, a wrong shape. what() is
// the message for the user (what was expected, what was found, where); where() is the
// source location that raised it, for bug reports.
class Error : public std::runtime_error {
 public:
  Error(std::string message, std::string where)
      : std::runtime_error(std::move(message)), where_(std::move(where)) {}
  const std::string& where() const { return where_; }

 private:
  std::string where_;
};

namespace detail {
[[noreturn]] void throw_error(const char* file, int line, std::string message);
}  // namespace detail

}  // namespace tide

// TIDE_CHECK(cond, "format {}", args...): throws tide::Error with the formatted message
// when cond is false.
#define TIDE_CHECK(cond, ...)                                                    \
  do {                                                                           \
    if (!(cond)) [[unlikely]]                                                    \
      ::tide::detail::throw_error(__FILE__, __LINE__, fmt::format(__VA_ARGS__)); \
  } while (0)

// TIDE_FAIL("format {}", args...): throws unconditionally.
#define TIDE_FAIL(...) ::tide::detail::throw_error(__FILE__, __LINE__, fmt::format(__VA_ARGS__))
