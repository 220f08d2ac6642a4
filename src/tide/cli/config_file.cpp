#include "tide/cli/config_file.hpp"

#include <filesystem>

#include "tide/core/error.hpp"

namespace tide::cli {

void apply_config_file(CLI::App& cmd, const std::string& path) {
  TIDE_CHECK(std::filesystem::is_regular_file(path), "config file {} does not exist", path);
  std::vector<CLI::ConfigItem> items;
  try {
    items = CLI::ConfigTOML().from_file(path);
  } catch (const CLI::Error& e) {
    TIDE_FAIL("config file {}: {}", path, e.what());
  }
  for (const CLI::ConfigItem& item : items) {
    if (item.name == "++" || item.name == "--") continue;  // table start and end markers
    // [run] holds what a run measured about itself (ranks, global batch): not options.
    if (!item.parents.empty() && item.parents[0] == "run") continue;
    TIDE_CHECK(
        item.parents.empty() || (item.parents.size() == 1 && item.parents[0] == cmd.get_name()),
        "config file {}: unknown key '{}' (tables other than [{}] are not used)", path,
        item.fullname(), cmd.get_name());
    CLI::Option* opt = cmd.get_option_no_throw("--" + item.name);
    TIDE_CHECK(opt != nullptr && item.name != "config",
               "config file {}: unknown key '{}'; keys are the flags of `tide {}` without the "
               "dashes (see --help)",
               path, item.name, cmd.get_name());
    if (opt->count() > 0) continue;  // given on the command line
    try {
      for (const std::string& value : item.inputs) opt->add_result(value);
      opt->run_callback();
    } catch (const CLI::Error& e) {
      TIDE_FAIL("config file {}: key '{}': {}", path, item.name, e.what());
    }
  }
}

}  // namespace tide::cli
