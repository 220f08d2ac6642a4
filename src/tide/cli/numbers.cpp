#include <charconv>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "tide/cli/commands.hpp"

namespace tide::cli {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// CLI11 reads integers with strtoll/strtoull in base 0: "-1" becomes 2^64 - 1 in an unsigned
// option, a value past 64 bits the largest one, and "010" is octal. Whole numbers are read
// here instead, in decimal, and a value that does not fit is refused; the text is rewritten
// without leading zeros so that CLI11's conversion reads the same number.
std::string check_whole_number(std::string& text, bool is_unsigned) {
  size_t i = 0;
  const bool negative = !text.empty() && text[0] == '-';
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) ++i;
  if (i == text.size()) return fmt::format("'{}' is not a whole number", text);
  for (size_t j = i; j < text.size(); ++j)
    if (!is_digit(text[j])) return fmt::format("'{}' is not a whole number", text);
  const size_t first = std::min(text.find_first_not_of('0', i), text.size() - 1);
  std::string digits = text.substr(first);
  if (is_unsigned) {
    uint64_t v = 0;
    if (negative && digits != "0")
      return fmt::format("{} is negative: the value is a whole number in [0, {}]", text,
                         UINT64_MAX);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc())
      return fmt::format("{} does not fit in 64 bits: the value is a whole number in [0, {}]", text,
                         UINT64_MAX);
    text = digits;
    return "";
  }
  const std::string signed_text = (negative ? "-" : "") + digits;
  int64_t v = 0;
  const auto [end, ec] =
      std::from_chars(signed_text.data(), signed_text.data() + signed_text.size(), v);
  if (ec != std::errc())
    return fmt::format("{} does not fit in 64 bits: the value is a whole number in [{}, {}]", text,
                       INT64_MIN, INT64_MAX);
  text = signed_text;
  return "";
}

// NaN slips through every range check written as `x >= lo` false-negated, and an infinite
// value is no setting: both are refused by every floating-point flag.
std::string check_finite_number(const std::string& text) {
  if (text.empty()) return "an empty value is not a number";
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return fmt::format("'{}' is not a number", text);
  if (!std::isfinite(v))  // nan, inf, or past the largest double
    return fmt::format("{} is not a finite number (the value must be finite, below {:g} in size)",
                       text, 1.7976931348623157e308);
  return "";
}

}  // namespace

void add_number_checks(CLI::App& app) {
  for (CLI::Option* opt : app.get_options()) {
    const std::string type = opt->get_type_name();
    if (type.starts_with("UINT"))
      opt->transform(
          CLI::Validator([](std::string& s) { return check_whole_number(s, true); }, "", ""));
    else if (type.starts_with("INT"))
      opt->transform(
          CLI::Validator([](std::string& s) { return check_whole_number(s, false); }, "", ""));
    else if (type.starts_with("FLOAT"))
      opt->check(CLI::Validator([](std::string& s) { return check_finite_number(s); }, "", ""));
  }
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) add_number_checks(*sub);
}

}  // namespace tide::cli
