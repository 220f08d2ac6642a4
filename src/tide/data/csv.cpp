#include "tide/data/csv.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tide/core/error.hpp"

namespace tide {
namespace {

std::string_view trim(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> fields;
  for (size_t start = 0;;) {
    const size_t comma = line.find(',', start);
    fields.push_back(trim(line.substr(start, comma - start)));
    if (comma == std::string_view::npos) return fields;
    start = comma + 1;
  }
}

// The whole field as a number (NaN and infinity included), or nothing.
std::optional<double> number(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::string unquote(std::string_view s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return std::string(s);
}

}  // namespace

size_t CsvTable::index_of(const std::string& column) const {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == column) return i;
  if (const std::optional<double> n = number(column);
      n && *n >= 1 && *n <= static_cast<double>(names.size()) && *n == std::floor(*n))
    return static_cast<size_t>(*n) - 1;
  TIDE_FAIL("{} has no column '{}'; its columns are {} (or 1 to {} by number)", path, column,
            fmt::join(names, ", "), names.size());
}

CsvTable read_csv(const std::string& path) {
  std::ifstream in(path);
  TIDE_CHECK(in, "{}: cannot open: {}", path, std::strerror(errno));
  CsvTable t;
  t.path = path;
  std::string line;
  bool header_done = false;
  for (int64_t number_of_line = 1; std::getline(in, line); ++number_of_line) {
    const std::string_view text = trim(line);
    if (text.empty() || text.front() == '#') continue;
    const std::vector<std::string_view> fields = split(text);
    if (!header_done) {
      header_done = true;
      bool numeric = true;
      for (const std::string_view f : fields) numeric = numeric && number(f).has_value();
      t.columns.resize(fields.size());
      for (size_t i = 0; i < fields.size(); ++i)
        t.names.push_back(numeric ? std::to_string(i + 1) : unquote(fields[i]));
      if (!numeric) {
        for (size_t i = 0; i < fields.size(); ++i)
          TIDE_CHECK(!t.names[i].empty(), "{}: line {}: column {} of the header has no name", path,
                     number_of_line, i + 1);
        continue;
      }
    }
    TIDE_CHECK(fields.size() == t.names.size(), "{}: line {} has {} field{}, expected {} ({})",
               path, number_of_line, fields.size(), fields.size() == 1 ? "" : "s", t.names.size(),
               fmt::join(t.names, ", "));
    for (size_t i = 0; i < fields.size(); ++i) {
      const std::optional<double> v = number(fields[i]);
      TIDE_CHECK(v.has_value(), "{}: line {}, column '{}': '{}' is not a number", path,
                 number_of_line, t.names[i], fields[i]);
      TIDE_CHECK(std::isfinite(*v), "{}: line {}, column '{}': {} is not a finite number", path,
                 number_of_line, t.names[i], fields[i]);
      t.columns[i].push_back(*v);
    }
    t.lines.push_back(number_of_line);
  }
  TIDE_CHECK(in.eof(), "{}: read error: {}", path, std::strerror(errno));
  TIDE_CHECK(header_done, "{} is empty: expected a header line (such as x,y) and rows of numbers",
             path);
  TIDE_CHECK(t.rows() > 0, "{} has a header ({}) but no rows of numbers", path,
             fmt::join(t.names, ", "));
  return t;
}

}  // namespace tide
