// TOML configuration files for subcommands: `key = value` lines whose keys are the
// subcommand's long flag names (batch-size = 64), optionally under a [<subcommand>] table.
#pragma once

#include <CLI/CLI.hpp>

namespace tide::cli {

// Applies the settings of the TOML file at `path` to the options of `cmd` that were not given
// on the command line (flags win over the file), running each option's checks. Throws
// tide::Error naming the file and the key for a missing file, an unknown key or a bad value.
void apply_config_file(CLI::App& cmd, const std::string& path);

}  // namespace tide::cli
