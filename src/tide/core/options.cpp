#include "tide/core/options.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/ranges.h>

namespace tide {
namespace {

constexpr char kNameMark = '\x01';  // followed by the name's index digit

}  // namespace

std::string or_list(const std::vector<std::string>& names) {
  if (names.size() <= 1) return names.empty() ? "" : names[0];
  std::string s;
  for (size_t i = 0; i + 1 < names.size(); ++i) s += (i > 0 ? ", " : "") + names[i];
  return s + " or " + names.back();
}

void fail_choice(const std::string& option, const std::vector<std::string>& names,
                 std::string_view text) {
  fail_option({option}, "{0} must be {}, got '{}'", or_list(names), text);
}

namespace {

std::string render_names(const std::vector<std::string>& names, const std::string& text,
                         const std::function<std::string(const std::string&)>& spell) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == kNameMark && i + 1 < text.size()) {
      const auto index = static_cast<size_t>(text[++i] - '0');
      out += index < names.size() ? spell(names[index]) : "?";
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string as_is(const std::string& name) {
  return name;
}

}  // namespace

OptionError::OptionError(std::vector<std::string> names, std::string text, std::string where)
    : Error(render_names(names, text, as_is), std::move(where)),
      names_(std::move(names)),
      text_(std::move(text)) {}

std::string OptionError::render(const std::function<std::string(const std::string&)>& spell) const {
  return render_names(names_, text_, spell);
}

OptionError OptionError::prefixed(const std::string& prefix) const {
  std::vector<std::string> names;
  for (const std::string& n : names_) names.push_back(prefix + n);
  return OptionError(std::move(names), text_, where());
}

std::string mark_names(std::string_view format) {
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] == '{' && i + 2 < format.size() && format[i + 1] >= '0' && format[i + 1] <= '9' &&
        format[i + 2] == '}') {
      out += kNameMark;
      out += format[i + 1];
      i += 2;
    } else {
      out += format[i];
    }
  }
  return out;
}

void throw_option_error(std::vector<std::string> names, std::string text,
                        const std::source_location& where) {
  throw OptionError(std::move(names), std::move(text),
                    fmt::format("{}:{}", where.file_name(), where.line()));
}

Limits Limits::at_most(double m) const {
  Limits l = *this;
  l.max = m;
  l.max_open = false;
  return l;
}

Limits Limits::zero_means(std::string_view meaning) const {
  Limits l = *this;
  l.zero = meaning;
  return l;
}

namespace {

Limits range(double min, bool min_open, double max, bool max_open) {
  Limits l;
  l.min = min;
  l.min_open = min_open;
  l.max = max;
  l.max_open = max_open;
  return l;
}

constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace

Limits at_least(double min) {
  return range(min, false, kInf, false);
}
Limits above(double min) {
  return range(min, true, kInf, false);
}
Limits closed(double min, double max) {
  return range(min, false, max, false);
}
Limits half_open(double min, double max) {
  return range(min, false, max, true);
}
Limits open_closed(double min, double max) {
  return range(min, true, max, false);
}

namespace {

bool within(const Limits& l, double v) {
  if (!std::isfinite(v)) return false;
  if (l.min_open ? !(v > l.min) : !(v >= l.min)) return false;
  return l.max_open ? v < l.max : v <= l.max;
}

// "a positive integer of at most 4096", ">= 0", "in [0, 1)", "a finite number".
std::string rule(const Limits& l, bool integer) {
  const bool has_min = std::isfinite(l.min), has_max = std::isfinite(l.max);
  std::string s;
  const bool positive = has_min && l.min == 0 && l.min_open;
  if (positive && has_max && !l.max_open) {
    s = fmt::format("a positive {} of at most {}", integer ? "integer" : "number", l.max);
  } else if (has_min && has_max) {
    s = fmt::format("in {}{}, {}{}", l.min_open ? '(' : '[', l.min, l.max, l.max_open ? ')' : ']');
  } else if (positive) {
    s = integer ? "a positive integer" : "a positive number";
  } else if (has_min) {
    s = fmt::format("{} {}", l.min_open ? ">" : ">=", l.min);
  } else if (has_max) {
    s = fmt::format("{} {}", l.max_open ? "<" : "<=", l.max);
  } else {
    s = "a finite number";
  }
  if (!l.zero.empty()) s += fmt::format(" (0: {})", l.zero);
  return s;
}

template <class T>
void check_number(const Option& o, T value, bool integer) {
  check_option(within(o.limits, static_cast<double>(value)), {o.name}, "{0} must be {}, got {}",
               rule(o.limits, integer), value);
}

}  // namespace

Option Option::with_choices(std::vector<std::string> names) && {
  choices = std::move(names);
  return std::move(*this);
}

void check_limits(const std::vector<Option>& options) {
  for (const Option& o : options) {
    if (const auto* p = std::get_if<std::string*>(&o.value); p && !o.choices.empty())
      check_option(std::find(o.choices.begin(), o.choices.end(), **p) != o.choices.end(), {o.name},
                   "{0} must be {}, got '{}'", or_list(o.choices), **p);
    if (const auto* p = std::get_if<int*>(&o.value)) check_number(o, **p, true);
    if (const auto* p = std::get_if<int64_t*>(&o.value)) check_number(o, **p, true);
    if (const auto* p = std::get_if<uint64_t*>(&o.value)) check_number(o, **p, true);
    if (const auto* p = std::get_if<double*>(&o.value)) check_number(o, **p, false);
  }
}

std::vector<Option> prefixed(const std::string& prefix, std::vector<Option> options) {
  for (Option& o : options) o.name = prefix + o.name;
  return options;
}

void append(std::vector<Option>& to, std::vector<Option> more) {
  for (Option& o : more) to.push_back(std::move(o));
}

std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
  }
  return out + "\"";
}

namespace {

struct TomlValue {
  std::string operator()(bool* v) const { return *v ? "true" : "false"; }
  std::string operator()(int* v) const { return fmt::format("{}", *v); }
  std::string operator()(int64_t* v) const { return fmt::format("{}", *v); }
  // TOML integers are 64-bit signed: a larger value is written as a string.
  std::string operator()(uint64_t* v) const {
    return *v <= uint64_t{INT64_MAX} ? fmt::format("{}", *v) : toml_string(fmt::format("{}", *v));
  }
  std::string operator()(double* v) const { return fmt::format("{}", *v); }
  std::string operator()(std::string* v) const { return toml_string(*v); }
  std::string operator()(std::vector<int64_t>* v) const {
    return fmt::format("[{}]", fmt::join(*v, ", "));
  }
  std::string operator()(const TextValue& v) const { return toml_string(v.get()); }
};

}  // namespace

std::string toml_lines(const std::vector<Option>& options) {
  std::string s;
  for (const Option& o : options)
    s += fmt::format("{} = {}\n", o.flag, std::visit(TomlValue{}, o.value));
  return s;
}

}  // namespace tide
