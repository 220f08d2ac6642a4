#include <map>

#include <fmt/format.h>

#include "tide/cli/commands.hpp"

namespace tide::cli {
namespace {

// Each subcommand's option names and their flags, for errors raised by the library.
std::map<const CLI::App*, std::map<std::string, std::string>>& flags_of_command() {
  static std::map<const CLI::App*, std::map<std::string, std::string>> flags;
  return flags;
}

struct AddOption {
  CLI::App* cmd;
  const Option& o;
  std::string flag = "--" + o.flag;

  CLI::Option* operator()(bool* v) const { return cmd->add_flag(flag, *v, o.help); }
  CLI::Option* operator()(std::vector<int64_t>* v) const {
    return cmd->add_option(flag, *v, o.help)->delimiter(',');
  }
  CLI::Option* operator()(const TextValue& v) const {
    // A bad text is a CLI11 error naming the flag it came with, so that the command line and
    // a config file (which adds its file and line) report it as they report any bad value.
    auto set = [set = v.set, name = o.name, flag = flag](const std::string& text) {
      try {
        set(text);
      } catch (const OptionError& e) {
        throw CLI::ValidationError(
            e.render([&](const std::string& n) { return n == name ? flag : n; }));
      }
    };
    CLI::Option* opt = cmd->add_option_function<std::string>(flag, set, o.help);
    opt->default_str(v.get());
    return opt;
  }
  template <class T>
  CLI::Option* operator()(T* v) const {
    return cmd->add_option(flag, *v, o.help)->capture_default_str();
  }
};

}  // namespace

void add_options(CLI::App* cmd, const std::vector<Option>& options) {
  auto& flags = flags_of_command()[cmd];
  for (const Option& o : options) {
    CLI::Option* opt = std::visit(AddOption{.cmd = cmd, .o = o}, o.value);
    if (!o.choices.empty()) opt->check(CLI::IsMember(o.choices));
    flags[o.name] = "--" + o.flag;
  }
}

std::string with_flags(const CLI::App* cmd, const OptionError& e) {
  const auto it = flags_of_command().find(cmd);
  return e.render([&](const std::string& name) {
    if (it != flags_of_command().end()) {
      const auto flag = it->second.find(name);
      if (flag != it->second.end()) return flag->second;
    }
    return name;
  });
}

std::function<void()> naming_flags(const CLI::App* cmd, std::function<void()> callback) {
  return [cmd, callback = std::move(callback)] {
    try {
      callback();
    } catch (const OptionError& e) {
      throw Error(with_flags(cmd, e), e.where());
    }
  };
}

}  // namespace tide::cli
