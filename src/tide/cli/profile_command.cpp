#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "tide/cli/commands.hpp"
#include "tide/session/trace_file.hpp"

namespace tide::cli {

void add_profile_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "profile",
      "Where the steps of a traced run went: ms per step and share of the step per phase, and "
      "how much of the allreduce backward hid (from a --trace file)");
  auto path = std::make_shared<std::string>();
  cmd->add_option("trace", *path, "The trace, or a run directory holding trace.json")->required();
  cmd->callback([path] {
    std::string file = *path;
    if (std::filesystem::is_directory(file))
      file = (std::filesystem::path(file) / "trace.json").string();
    fmt::print("{}", format_profile(profile_trace(file)));
  });
}

}  // namespace tide::cli
