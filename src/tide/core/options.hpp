// Options of a configuration struct, declared once: a table of Option (name, flag, help, the
// member it sets, its limits) from which the library validates, writes TOML and names the
// option in errors, and the CLI registers flags. Choices (enums) are named once too.
//
//   std::vector<Option> options(FitOptions& o) {
//     return {option("epochs", "epochs", o.epochs, "Passes over the data", at_least(1)),
//             option("method", "method", o.method, "lstsq, gd or sgd")};
//   }
//
// An error about an option names it by the member (`schedule.gamma must be in (0, 1]`); the
// CLI renders the same error with the flag (`--lr-gamma must be in (0, 1]`).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <source_location>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "tide/core/error.hpp"

namespace tide {

// ---- Choices: an enum whose values have names. An enum E takes part by an overload
// `constexpr std::array<std::string_view, N> choice_names(E)` (found by argument-dependent
// lookup) listing the names of E's values 0, 1, ..., N - 1 in order.

template <class E>
concept Choice = std::is_enum_v<E> && requires(E e) {
  choice_names(e);
};

template <Choice E>
constexpr std::string_view name_of(E e) {
  return choice_names(E{})[static_cast<size_t>(e)];
}

// "a, b or c"
std::string or_list(const std::vector<std::string>& names);

template <Choice E>
std::vector<std::string> names_of() {
  const auto names = choice_names(E{});
  return {names.begin(), names.end()};
}

[[noreturn]] void fail_choice(const std::string& option, const std::vector<std::string>& names,
                              std::string_view text);

// The value named `text`; throws OptionError naming `option` and the names otherwise.
template <Choice E>
E parse_choice(std::string_view text, const std::string& option) {
  const auto names = choice_names(E{});
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == text) return static_cast<E>(i);
  fail_choice(option, names_of<E>(), text);
}

// ---- Errors about options.

// An error about options named in `names`: `text` holds {0}, {1}, ... where the names go,
// so that the library's message names members and the CLI's names flags.
class OptionError : public Error {
 public:
  OptionError(std::vector<std::string> names, std::string text, std::string where);
  const std::vector<std::string>& names() const { return names_; }
  // The message with each name replaced by `spell(name)`.
  std::string render(const std::function<std::string(const std::string&)>& spell) const;
  // A copy whose names start with `prefix` (an option of a nested struct: "schedule.").
  OptionError prefixed(const std::string& prefix) const;

 private:
  std::vector<std::string> names_;
  std::string text_;
};

// `format` with its {0}, {1}, ... (the option names) marked so that fmt leaves them, and the
// marks that render() replaces; user text in the arguments cannot be taken for a name.
std::string mark_names(std::string_view format);

// The format of an option error, and where it was raised (for bug reports).
struct OptionFormat {
  std::string_view text;
  std::source_location where;
  OptionFormat(const char* t, std::source_location w = std::source_location::current())
      : text(t), where(w) {}
};

[[noreturn]] void throw_option_error(std::vector<std::string> names, std::string text,
                                     const std::source_location& where);

// fail_option({"team_flag", "team_values"}, "{0} and {1} go together (got only {})", x):
// the format's {} take the arguments; {0}, {1}, ... are the names. Throws OptionError.
template <class... Args>
[[noreturn]] void fail_option(std::vector<std::string> names, OptionFormat format, Args&&... args) {
  throw_option_error(
      std::move(names),
      fmt::format(fmt::runtime(mark_names(format.text)), std::forward<Args>(args)...),
      format.where);
}

template <class... Args>
void check_option(bool ok, std::vector<std::string> names, OptionFormat format, Args&&... args) {
  if (!ok) [[unlikely]]
    fail_option(std::move(names), format, std::forward<Args>(args)...);
}

// ---- The table.

// The values a number may take: [min, max], either end open; what 0 means, for messages.
struct Limits {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_open = false, max_open = false;
  std::string_view zero;  // "off": the message adds "(0: off)"

  Limits at_most(double m) const;
  Limits zero_means(std::string_view meaning) const;
};
Limits at_least(double min);
Limits above(double min);
// [min, max], [min, max) and (min, max].
Limits closed(double min, double max);
Limits half_open(double min, double max);
Limits open_closed(double min, double max);

// A value read from and written as text (a choice, or a type with its own spelling).
struct TextValue {
  std::function<std::string()> get;
  std::function<void(const std::string&)> set;  // throws tide::Error for a bad text
};

using OptionValue = std::variant<bool*, int*, int64_t*, uint64_t*, double*, std::string*,
                                 std::vector<int64_t>*, TextValue>;

struct Option {
  std::string name;  // the member, as a library caller sets it: "schedule.gamma"
  std::string flag;  // the CLI flag without dashes and the TOML key: "lr-gamma"
  std::string help;
  OptionValue value;
  Limits limits;                     // numbers only
  std::vector<std::string> choices;  // the texts it may take; empty: any

  // This option taking only `names` (a string chosen from a registry, say).
  Option with_choices(std::vector<std::string> names) &&;
};

// Types other than choices spelt as text provide `std::string to_text(const T&)` and
// `void from_text(const std::string&, T&)`.
template <class T>
concept Spelt = requires(T& t, const std::string& s) {
  { to_text(t) } -> std::convertible_to<std::string>;
  from_text(s, t);
};

template <class T>
Option option(std::string name, std::string flag, T& member, std::string help, Limits limits = {}) {
  OptionValue value;
  if constexpr (Choice<T>) {
    const std::string what = name;
    value = TextValue{
        .get = [&member] { return std::string(name_of(member)); },
        .set = [&member, what](const std::string& s) { member = parse_choice<T>(s, what); }};
  } else if constexpr (Spelt<T>) {
    value = TextValue{.get = [&member] { return to_text(member); },
                      .set = [&member](const std::string& s) { from_text(s, member); }};
  } else {
    value = &member;
  }
  std::vector<std::string> choices;
  if constexpr (Choice<T>) choices = names_of<T>();
  return Option{.name = std::move(name),
                .flag = std::move(flag),
                .help = std::move(help),
                .value = std::move(value),
                .limits = limits,
                .choices = std::move(choices)};
}

// The options of a nested struct, renamed "prefix" + name.
std::vector<Option> prefixed(const std::string& prefix, std::vector<Option> options);
void append(std::vector<Option>& to, std::vector<Option> more);

// Throws OptionError naming the first option whose number is outside its limits (or not
// finite), or whose string is not one of its choices.
void check_limits(const std::vector<Option>& options);

// One `flag = value` line per option, values as TOML.
std::string toml_lines(const std::vector<Option>& options);
// `s` as a TOML basic string: quoted, with quotes, backslashes, newlines and tabs escaped.
std::string toml_string(const std::string& s);

}  // namespace tide
