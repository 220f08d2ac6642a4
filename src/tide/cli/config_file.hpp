// TOML configuration files for subcommands: `key = value` lines whose keys are the
// subcommand's long flag names (batch-size = 64), optionally under a [<subcommand>] table.
//
// The subset of TOML a run's config.toml uses, read strictly: comments, `key = value` with a
// bare key, values that are basic ("...") or literal ('...') strings, numbers, true/false or
// one-line arrays of them, and the tables [<subcommand>] and [run] (what a run measured
// about itself: read and ignored). Anything else (a key without a value, a dotted key, an
// inline table, another or nested table, a key given twice) is refused with its line.
// Tide's own because neither Debian reader does this: CLI11's reads `momentum =` as 0 and
// keeps no lines, and cpptoml 0.1.1 (libcpptoml-dev) refuses valid TOML such as
// `eps = 1e-07`, the form a run writes.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace tide::cli {

// One `key = value` line of a config file.
struct ConfigEntry {
  std::string table;  // "" before any [table] header
  std::string key;
  std::vector<std::string> values;  // one, or the items of an array (none for [])
  bool array = false;
  int line = 0;
};

// The entries of the TOML text `text` (from the file `path`, for messages); `tables` are the
// table names it may use. Throws tide::Error naming the file, the line and the key.
std::vector<ConfigEntry> parse_config_text(const std::string& text, const std::string& path,
                                           const std::vector<std::string>& tables);

// Applies the settings of the TOML file at `path` to the options of `cmd` that were not given
// on the command line (flags win over the file), running each option's checks. Throws
// tide::Error naming the file, the line and the key for a missing file, a malformed line, an
// unknown key or a bad value.
void apply_config_file(CLI::App& cmd, const std::string& path);

}  // namespace tide::cli
