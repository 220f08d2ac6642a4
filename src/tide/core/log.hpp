// Logging to standard error, one line per message, prefixed with the elapsed time.
#pragma once

#include <string_view>

#include <fmt/format.h>

namespace tide {

void log_write(std::string_view level, std::string_view message);

template <class... Args>
void log_info(fmt::format_string<Args...> f, Args&&... args) {
  log_write("info", fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void log_warn(fmt::format_string<Args...> f, Args&&... args) {
  log_write("warn", fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace tide
