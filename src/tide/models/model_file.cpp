#include "tide/models/model_file.hpp"

#include <filesystem>

#include <fmt/ranges.h>

#include "tide/core/read_file.hpp"
#include "tide/models/layer_spec.hpp"
#include "tide/models/shipped_models.hpp"

namespace tide {
namespace {

// The [train] table as option texts for the CLI.
std::vector<RecommendedOption> read_recommended(const toml::table& t, const std::string& source) {
  std::vector<RecommendedOption> out;
  for (const auto& [key, value] : t) {
    std::string text;
    if (const auto* s = value.as_string()) {
      text = s->get();
    } else if (const std::optional<ModelArgument> a = argument_value(value)) {
      text = argument_text(*a);
    } else if (const auto* list = value.as_array()) {
      std::vector<std::string> items;
      for (const toml::node& item : *list) {
        const std::optional<ModelArgument> a = argument_value(item);
        TIDE_CHECK(a.has_value(), "{}:{}: [train] {} must list numbers", source, line_of(item),
                   key.str());
        items.push_back(argument_text(*a));
      }
      text = fmt::format("{}", fmt::join(items, ","));
    } else {
      model_error(fmt::format("{}:{}: [train] {} must be a string, number, switch or list, got {}",
                              source, line_of(value), key.str(), toml_type(value)));
    }
    out.push_back({std::string(key.str()), std::move(text), line_of(value)});
  }
  // toml++ keeps a table's keys sorted; the file's order reads better in messages.
  std::stable_sort(
      out.begin(), out.end(),
      [](const RecommendedOption& a, const RecommendedOption& b) { return a.line < b.line; });
  return out;
}

const toml::table& table_at(const toml::table& root, std::string_view key, const std::string& src) {
  static const toml::table empty;
  const toml::node* n = root.get(key);
  if (n == nullptr) return empty;
  TIDE_CHECK(n->is_table(), "{}:{}: {} must be a table ([{}]), got {}", src, line_of(*n), key, key,
             toml_type(*n));
  return *n->as_table();
}

}  // namespace

ModelFile ModelFile::parse(const std::string& text, std::string source) {
  ModelFile f;
  f.source_ = std::move(source);
  f.text_ = text;
  auto doc = std::make_shared<Document>();
  try {
    doc->root = toml::parse(text, f.source_);
  } catch (const toml::parse_error& e) {
    model_error(fmt::format("{}:{}:{}: not valid TOML: {}", f.source_, e.source().begin.line,
                            e.source().begin.column, e.description()));
  }
  const toml::table& root = doc->root;
  for (const auto& [key, value] : root) {
    static const std::vector<std::string_view> known = {"model", "arguments", "train", "blocks",
                                                        "layers"};
    TIDE_CHECK(std::find(known.begin(), known.end(), key.str()) != known.end(),
               "{}:{}: unknown key '{}'; a model file has [model], [arguments], [train], "
               "[blocks.NAME] and [[layers]]",
               f.source_, key.source().begin.line, key.str());
  }
  const toml::table& model = table_at(root, "model", f.source_);
  for (const auto& [key, value] : model)
    TIDE_CHECK(key.str() == "name" || key.str() == "description",
               "{}:{}: unknown key '{}' in [model]; it has name and description", f.source_,
               key.source().begin.line, key.str());
  f.name_ = model["name"].value_or(std::filesystem::path(f.source_).stem().string());
  read_arguments(table_at(root, "arguments", f.source_), f.source_, f.arguments_);
  for (const char* given : {"classes", "outputs"})
    TIDE_CHECK(!f.arguments_.contains(given),
               "{}: '{}' is given by the data and cannot be declared in [arguments]", f.source_,
               given);
  f.recommended_ = read_recommended(table_at(root, "train", f.source_), f.source_);
  for (const auto& [name, block] : table_at(root, "blocks", f.source_))
    TIDE_CHECK(block.is_table(), "{}:{}: block '{}' must be a table ([blocks.{}])", f.source_,
               line_of(block), name.str(), name.str());
  const toml::node* layers = root.get("layers");
  TIDE_CHECK(layers != nullptr, "{}: has no [[layers]]: a model file lists its layers", f.source_);
  TIDE_CHECK(layers->is_array() && !layers->as_array()->empty(),
             "{}:{}: layers must be a non-empty list of tables ([[layers]]), got {}", f.source_,
             line_of(*layers), toml_type(*layers));
  f.document_ = std::move(doc);
  return f;
}

ModelFile ModelFile::read(const std::string& path) {
  return parse(read_file_bytes(path, 1 << 20, "a model file (at most 1 MB)"), path);
}

const ModelFile& shipped_model(const std::string& name) {
  static const std::map<std::string, ModelFile> files = [] {
    std::map<std::string, ModelFile> out;
    for (const auto& [n, text] : shipped_model_texts())
      out.emplace(n, ModelFile::parse(std::string(text), fmt::format("models/{}.toml", n)));
    return out;
  }();
  const auto it = files.find(name);
  TIDE_CHECK(it != files.end(), "unknown model '{}'; known models: {}", name,
             fmt::join(shipped_model_names(), ", "));
  return it->second;
}

std::vector<std::string> shipped_model_names() {
  std::vector<std::string> names;
  for (const auto& [n, text] : shipped_model_texts()) names.emplace_back(n);
  return names;
}

}  // namespace tide
