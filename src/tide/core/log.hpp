// Logging to standard error, one line per message, prefixed with the elapsed time.
#pragma once

#include <string>
#include <string_view>

#include <fmt/format.h>

namespace tide {

void log_write(std::string_view level, std::string_view message);
// Text put in every line after the time, e.g. "rank 1/4"; empty (the default) for none.
void set_log_prefix(std::string prefix);

template <class... Args>
void log_info(fmt::format_string<Args...> f, Args&&... args) {
  log_write("info", fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void log_warn(fmt::format_string<Args...> f, Args&&... args) {
  log_write("warn", fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace tide
