// Reading a layer's values from a model file, `$arguments` substituted.
#include "tide/models/layer_spec.hpp"

#include <fmt/ranges.h>

namespace tide {

std::string toml_type(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a number";
    case toml::node_type::boolean:
      return "true or false";
    default:
      return "a date or time";
  }
}

int64_t line_of(const toml::node& n) {
  return static_cast<int64_t>(n.source().begin.line);
}

// An argument's value from a TOML literal: a switch, an integer or a number.
std::optional<ModelArgument> argument_value(const toml::node& n) {
  if (const auto* b = n.as_boolean()) return ModelArgument{b->get()};
  if (const auto* i = n.as_integer()) return ModelArgument{i->get()};
  if (const auto* f = n.as_floating_point()) return ModelArgument{f->get()};
  return std::nullopt;
}

std::string argument_text(const ModelArgument& a) {
  return std::visit(
      [](auto v) -> std::string {
        if constexpr (std::is_same_v<decltype(v), bool>)
          return v ? "true" : "false";
        else
          return fmt::format("{}", v);
      },
      a);
}

// Reads a table of arguments (the file's [arguments], a block's `arguments`) into `out`.
void read_arguments(const toml::table& t, const std::string& where, ModelArguments& out) {
  for (const auto& [key, value] : t) {
    const std::optional<ModelArgument> v = argument_value(value);
    TIDE_CHECK(v.has_value(), "{}:{}: argument '{}' must be true, false or a number, got {}", where,
               line_of(value), key.str(), toml_type(value));
    out[std::string(key.str())] = *v;
  }
}

LayerSpec::LayerSpec(const toml::table& table, const ModelArguments& scope, std::string source,
                     std::string label)
    : table_(table), scope_(scope), source_(std::move(source)), label_(std::move(label)) {}

int64_t LayerSpec::line() const {
  return line_of(table_);
}

std::string LayerSpec::type() const {
  return table_["type"].value_or(std::string());
}

std::string LayerSpec::where() const {
  return fmt::format(
      "{}:{}: layer {} ({})", source_, line(), label_,
      table_.contains("block") ? "block " + table_["block"].value_or(std::string()) : type());
}

const toml::node* LayerSpec::node(std::string_view key) const {
  return table_.get(key);
}

std::optional<ModelArgument> LayerSpec::argument(std::string_view key,
                                                 const std::string& text) const {
  const bool negate = text.starts_with("!$");
  if (!negate && !text.starts_with("$")) return std::nullopt;
  const std::string name = text.substr(negate ? 2 : 1);
  const auto it = scope_.find(name);
  if (it == scope_.end()) {
    std::vector<std::string> names;
    for (const auto& [n, v] : scope_) names.push_back("$" + n);
    fail("{} = \"{}\" names no argument; known here: {}", key, text, fmt::join(names, ", "));
  }
  if (!negate) return it->second;
  if (!std::holds_alternative<bool>(it->second))
    fail("{} = \"{}\": only a switch (true or false) can be negated, ${} is {}", key, text, name,
         argument_text(it->second));
  return ModelArgument{!std::get<bool>(it->second)};
}

std::optional<ModelArgument> LayerSpec::scalar(std::string_view key, const char* what) const {
  const toml::node* n = node(key);
  if (n == nullptr) return std::nullopt;
  if (const auto* s = n->as_string()) {
    if (auto a = argument(key, s->get())) return a;
  } else if (auto a = argument_value(*n)) {
    return a;
  }
  fail("{} must be {}, got {}", key, what, toml_type(*n));
}

int64_t LayerSpec::integer(std::string_view key, std::optional<int64_t> fallback) const {
  const std::optional<ModelArgument> v = scalar(key, "an integer");
  if (!v) {
    if (!fallback) fail("needs {} (an integer)", key);
    return *fallback;
  }
  if (const auto* i = std::get_if<int64_t>(&*v)) return *i;
  fail("{} must be an integer, got {}", key, argument_text(*v));
}

double LayerSpec::number(std::string_view key, std::optional<double> fallback) const {
  const std::optional<ModelArgument> v = scalar(key, "a number");
  if (!v) {
    if (!fallback) fail("needs {} (a number)", key);
    return *fallback;
  }
  if (const auto* i = std::get_if<int64_t>(&*v)) return static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(&*v)) return *d;
  fail("{} must be a number, got {}", key, argument_text(*v));
}

bool LayerSpec::flag(std::string_view key, std::optional<bool> fallback) const {
  const std::optional<ModelArgument> v = scalar(key, "true or false");
  if (!v) {
    if (!fallback) fail("needs {} (true or false)", key);
    return *fallback;
  }
  if (const auto* b = std::get_if<bool>(&*v)) return *b;
  fail("{} must be true or false, got {}", key, argument_text(*v));
}

std::string LayerSpec::text(std::string_view key, std::optional<std::string> fallback) const {
  const toml::node* n = node(key);
  if (n == nullptr) {
    if (!fallback) fail("needs {} (a string)", key);
    return *fallback;
  }
  if (const auto* s = n->as_string()) return s->get();
  fail("{} must be a string, got {}", key, toml_type(*n));
}

std::array<int64_t, 2> LayerSpec::pair(std::string_view key,
                                       std::array<int64_t, 2> fallback) const {
  const toml::node* n = node(key);
  if (n == nullptr) {
    if (fallback == std::array<int64_t, 2>{0, 0} && key != "padding")
      fail("needs {} (an integer or [height, width])", key);
    return fallback;
  }
  if (const auto* list = n->as_array()) {
    if (list->size() != 2 || !(*list)[0].is_integer() || !(*list)[1].is_integer())
      fail("{} must be an integer or [height, width] of two integers", key);
    return {(*list)[0].as_integer()->get(), (*list)[1].as_integer()->get()};
  }
  const int64_t v = integer(key);
  return {v, v};
}

std::vector<int64_t> LayerSpec::integers(std::string_view key) const {
  const toml::array& list = array(key);
  std::vector<int64_t> out;
  for (const toml::node& item : list) {
    if (!item.is_integer()) fail("{} must list integers, got {}", key, toml_type(item));
    out.push_back(item.as_integer()->get());
  }
  return out;
}

const toml::array& LayerSpec::array(std::string_view key) const {
  const toml::node* n = node(key);
  if (n == nullptr) fail("needs {} (a list)", key);
  if (!n->is_array()) fail("{} must be a list, got {}", key, toml_type(*n));
  return *n->as_array();
}

void LayerSpec::check_keys(const std::vector<std::string_view>& keys) const {
  for (const auto& [key, value] : table_) {
    const std::string_view k = key.str();
    if (k == "type" || k == "name" || k == "if") continue;
    if (std::find(keys.begin(), keys.end(), k) == keys.end())
      fail("unknown option '{}'; {} takes {}", k, type(),
           keys.empty() ? std::string("none") : fmt::format("{}", fmt::join(keys, ", ")));
  }
}

}  // namespace tide
