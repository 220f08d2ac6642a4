#include "tide/data/csv.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
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

// The fields of a line: separated by commas, spaces around them dropped; a field may be in
// double quotes (holding commas, and "" for a quote). Nothing on an unclosed quote.
std::optional<std::vector<std::string>> split(std::string_view line) {
  std::vector<std::string> fields;
  size_t i = 0;
  for (;;) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::string field;
    if (i < line.size() && line[i] == '"') {
      for (++i;; ++i) {
        if (i >= line.size()) return std::nullopt;
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field += '"';
            ++i;
            continue;
          }
          ++i;
          break;
        }
        field += line[i];
      }
      while (i < line.size() && line[i] != ',') ++i;  // spaces after the closing quote
    } else {
      const size_t comma = std::min(line.find(',', i), line.size());
      field = std::string(trim(line.substr(i, comma - i)));
      i = comma;
    }
    fields.push_back(std::move(field));
    if (i >= line.size()) return fields;
    ++i;  // the comma
  }
}

enum class Parse { ok, empty, not_a_number, out_of_range };

// The whole field as a number (NaN and infinity included).
Parse parse_number(std::string_view s, double& v) {
  if (s.empty()) return Parse::empty;
  if (s.front() == '+') {
    s.remove_prefix(1);
    if (s.empty() || s.front() == '-' || s.front() == '+') return Parse::not_a_number;
  }
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::result_out_of_range && end == s.data() + s.size())
    return Parse::out_of_range;
  if (ec != std::errc() || end != s.data() + s.size()) return Parse::not_a_number;
  return Parse::ok;
}

std::optional<double> number(std::string_view s) {
  double v = 0;
  return parse_number(s, v) == Parse::ok ? std::optional<double>(v) : std::nullopt;
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
  TIDE_CHECK(!std::filesystem::is_directory(path), "{} is a directory, not a CSV file", path);
  std::ifstream in(path);
  TIDE_CHECK(in, "{}: cannot open: {}", path, std::strerror(errno));
  CsvTable t;
  t.path = path;
  std::string line;
  bool header_done = false;
  for (int64_t number_of_line = 1; std::getline(in, line); ++number_of_line) {
    std::string_view text = trim(line);
    if (number_of_line == 1 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // BOM
    if (text.empty() || text.front() == '#') continue;
    const std::optional<std::vector<std::string>> split_fields = split(text);
    TIDE_CHECK(split_fields.has_value(), "{}: line {}: a quoted field is not closed", path,
               number_of_line);
    const std::vector<std::string>& fields = *split_fields;
    if (!header_done) {
      header_done = true;
      bool numeric = true;
      // A number too large for a double is still a number: the first row, refused below.
      for (const std::string& f : fields) {
        double v = 0;
        const Parse p = parse_number(f, v);
        numeric = numeric && (p == Parse::ok || p == Parse::out_of_range);
      }
      t.columns.resize(fields.size());
      for (size_t i = 0; i < fields.size(); ++i)
        t.names.push_back(numeric ? std::to_string(i + 1) : fields[i]);
      if (!numeric) {
        for (size_t i = 0; i < fields.size(); ++i) {
          TIDE_CHECK(!t.names[i].empty(), "{}: line {}: column {} of the header has no name", path,
                     number_of_line, i + 1);
          for (size_t j = 0; j < i; ++j)
            TIDE_CHECK(t.names[j] != t.names[i],
                       "{}: line {}: columns {} and {} of the header are both named '{}'", path,
                       number_of_line, j + 1, i + 1, t.names[i]);
        }
        continue;
      }
    }
    TIDE_CHECK(fields.size() == t.names.size(), "{}: line {} has {} field{}, expected {} ({})",
               path, number_of_line, fields.size(), fields.size() == 1 ? "" : "s", t.names.size(),
               fmt::join(t.names, ", "));
    for (size_t i = 0; i < fields.size(); ++i) {
      double v = 0;
      const Parse parsed = parse_number(fields[i], v);
      TIDE_CHECK(parsed != Parse::empty,
                 "{}: line {}, column '{}': the field is empty (a missing value)", path,
                 number_of_line, t.names[i]);
      TIDE_CHECK(parsed != Parse::out_of_range,
                 "{}: line {}, column '{}': {} is out of the range of a double", path,
                 number_of_line, t.names[i], fields[i]);
      TIDE_CHECK(parsed == Parse::ok, "{}: line {}, column '{}': '{}' is not a number", path,
                 number_of_line, t.names[i], fields[i]);
      TIDE_CHECK(std::isfinite(v), "{}: line {}, column '{}': {} is not a finite number", path,
                 number_of_line, t.names[i], fields[i]);
      t.columns[i].push_back(v);
    }
    t.lines.push_back(number_of_line);
  }
  TIDE_CHECK(!in.bad(), "{}: read failed after line {}: {}", path,
             t.lines.empty() ? 0 : t.lines.back(), std::strerror(errno));
  TIDE_CHECK(header_done, "{} is empty: expected a header line (such as x,y) and rows of numbers",
             path);
  TIDE_CHECK(t.rows() > 0, "{} has a header ({}) but no rows of numbers", path,
             fmt::join(t.names, ", "));
  return t;
}

}  // namespace tide
