#include "tide/cli/config_file.hpp"

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tide/core/error.hpp"
#include "tide/core/read_file.hpp"

namespace tide::cli {
namespace {

bool is_bare_key_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// Reads one line of a config file from left to right; every error names the file and line.
class LineReader {
 public:
  LineReader(const std::string& line, const std::string& path, int number)
      : s_(line), where_(fmt::format("config file {}: line {}", path, number)) {}

  [[noreturn]] void fail(const std::string& what) const { TIDE_FAIL("{}: {}", where_, what); }

  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
  }
  bool at_end() {  // only blanks and a comment left
    skip_space();
    return pos_ == s_.size() || s_[pos_] == '#';
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool accept(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }

  std::string bare_key() {
    const size_t start = pos_;
    while (pos_ < s_.size() && is_bare_key_char(s_[pos_])) ++pos_;
    return s_.substr(start, pos_ - start);
  }

  // A string, number or boolean, as the text the option reads.
  std::string scalar(const std::string& key) {
    skip_space();
    if (accept('"')) return basic_string(key);
    if (accept('\'')) return literal_string(key);
    const size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] != ',' && s_[pos_] != ']' && s_[pos_] != '#' &&
           s_[pos_] != ' ' && s_[pos_] != '\t')
      ++pos_;
    const std::string v = s_.substr(start, pos_ - start);
    if (v.empty()) fail(fmt::format("key '{}' has no value", key));
    if (v[0] == '{') fail(fmt::format("key '{}': inline tables are not part of a config", key));
    return v;
  }

  size_t pos() const { return pos_; }
  const std::string& text() const { return s_; }

 private:
  std::string basic_string(const std::string& key) {
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      char c = s_[pos_++];
      if (c == '\\') {
        if (pos_ == s_.size()) break;
        const char e = s_[pos_++];
        switch (e) {
          case '"':
            c = '"';
            break;
          case '\\':
            c = '\\';
            break;
          case 'n':
            c = '\n';
            break;
          case 't':
            c = '\t';
            break;
          default:
            fail(fmt::format("key '{}': unknown escape \\{} in a string", key, e));
        }
      }
      out += c;
    }
    if (!accept('"')) fail(fmt::format("key '{}': the string has no closing quote", key));
    return out;
  }
  std::string literal_string(const std::string& key) {
    const size_t end = s_.find('\'', pos_);
    if (end == std::string::npos)
      fail(fmt::format("key '{}': the string has no closing quote", key));
    std::string out = s_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return out;
  }

  const std::string& s_;
  std::string where_;
  size_t pos_ = 0;
};

// "[name]": the table's name; anything but one bare name is refused.
std::string table_header(LineReader& r, const std::vector<std::string>& tables) {
  r.accept('[');
  const bool array_of_tables = r.accept('[');
  r.skip_space();
  std::string name = r.bare_key();
  while (r.peek() == '.') {  // a nested table: named whole in the message
    r.accept('.');
    name += "." + r.bare_key();
  }
  r.skip_space();
  if (array_of_tables || !r.accept(']') || (array_of_tables && !r.accept(']')) || !r.at_end() ||
      name.empty() || std::find(tables.begin(), tables.end(), name) == tables.end())
    r.fail(fmt::format("table [{}] is not one of this file's tables ([{}])", name,
                       fmt::join(tables, "], [")));
  return name;
}

ConfigEntry key_value(LineReader& r, const std::string& table, int line) {
  ConfigEntry e;
  e.table = table;
  e.line = line;
  e.key = r.bare_key();
  if (e.key.empty()) r.fail(fmt::format("expected `key = value`, got '{}'", r.text()));
  if (r.peek() == '.')
    r.fail(fmt::format("dotted key '{}...': a config has no nested tables", e.key));
  r.skip_space();
  if (!r.accept('=')) r.fail(fmt::format("key '{}' is not followed by '=' and a value", e.key));
  r.skip_space();
  if (r.accept('[')) {
    e.array = true;
    r.skip_space();
    if (!r.accept(']')) {
      for (;;) {
        e.values.push_back(r.scalar(e.key));
        r.skip_space();
        if (r.accept(']')) break;
        if (!r.accept(','))
          r.fail(
              fmt::format("key '{}': an array's items are separated by commas and it ends "
                          "with ']' on the same line",
                          e.key));
        r.skip_space();
        if (r.accept(']')) break;  // a trailing comma
      }
    }
  } else {
    e.values.push_back(r.scalar(e.key));
  }
  if (!r.at_end())
    r.fail(
        fmt::format("key '{}': unexpected '{}' after the value", e.key, r.text().substr(r.pos())));
  return e;
}

// "tide timeseries train": the subcommand as a user types it.
std::string command_path(const CLI::App& cmd) {
  std::string path = cmd.get_name();
  for (const CLI::App* up = cmd.get_parent(); up != nullptr; up = up->get_parent())
    path = (up->get_name().empty() ? "tide" : up->get_name()) + " " + path;
  return path;
}

}  // namespace

std::vector<ConfigEntry> parse_config_text(const std::string& text, const std::string& path,
                                           const std::vector<std::string>& tables) {
  std::vector<ConfigEntry> out;
  std::set<std::pair<std::string, std::string>> seen;
  std::istringstream in(text);
  std::string table;
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    LineReader r(line, path, number);
    if (r.at_end()) continue;
    if (r.peek() == '[') {
      table = table_header(r, tables);
      continue;
    }
    ConfigEntry e = key_value(r, table, number);
    if (!seen.insert({e.table, e.key}).second)
      r.fail(fmt::format("key '{}' is given twice", e.key));
    out.push_back(std::move(e));
  }
  return out;
}

void apply_config_file(CLI::App& cmd, const std::string& path) {
  TIDE_CHECK(std::filesystem::is_regular_file(path), "config file {} does not exist", path);
  // A config is a few kilobytes; a megabyte is far more than any.
  const std::string text = read_file_bytes(path, uint64_t{1} << 20, "a config file");
  for (const ConfigEntry& e : parse_config_text(text, path, {cmd.get_name(), "run"})) {
    // [run] holds what a run measured about itself (ranks, global batch): not options.
    if (e.table == "run") continue;
    CLI::Option* opt = e.key == "config" ? nullptr : cmd.get_option_no_throw("--" + e.key);
    TIDE_CHECK(opt != nullptr,
               "config file {}: line {}: unknown key '{}'; keys are the flags of `{}` "
               "without the dashes (see --help)",
               path, e.line, e.key, command_path(cmd));
    if (opt->count() > 0) continue;  // given on the command line
    const bool list = opt->get_items_expected_max() > 1;
    TIDE_CHECK(!e.array || list, "config file {}: line {}: key '{}' takes one value, not a list",
               path, e.line, e.key);
    // An empty list leaves an option whose default is no list as it is; CLI11 has no way to
    // give a list option zero values.
    if (e.array && e.values.empty()) {
      TIDE_CHECK(opt->get_default_str().empty() || opt->get_default_str() == "[]",
                 "config file {}: line {}: key '{}' needs at least one value (default {})", path,
                 e.line, e.key, opt->get_default_str());
      continue;
    }
    try {
      for (const std::string& value : e.values) opt->add_result(value);
      opt->run_callback();
    } catch (const CLI::Error& err) {
      TIDE_FAIL("config file {}: line {}: key '{}': {}", path, e.line, e.key, err.what());
    }
  }
}

}  // namespace tide::cli
