#include "tide/models/model_file.hpp"

#include <filesystem>
#include <set>

#include <fmt/ranges.h>

#include "tide/autograd/variable.hpp"
#include "tide/core/read_file.hpp"
#include "tide/models/layer_spec.hpp"
#include "tide/models/shipped_models.hpp"
#include "tide/nn/conv_layers.hpp"

namespace tide {
namespace {

constexpr int kMaxDepth = 32;  // nested blocks and branches; deeper is a block that uses itself

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

// --- LayerSpec ---

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

int64_t LayerSpec::integer(std::string_view key, std::optional<int64_t> fallback) const {
  const toml::node* n = node(key);
  if (n == nullptr) {
    if (!fallback) fail("needs {} (an integer)", key);
    return *fallback;
  }
  if (const auto* s = n->as_string())
    if (const auto a = argument(key, s->get()))
      if (const auto* i = std::get_if<int64_t>(&*a)) return *i;
  if (const auto* i = n->as_integer()) return i->get();
  fail("{} must be an integer, got {}", key, toml_type(*n));
}

double LayerSpec::number(std::string_view key, std::optional<double> fallback) const {
  const toml::node* n = node(key);
  if (n == nullptr) {
    if (!fallback) fail("needs {} (a number)", key);
    return *fallback;
  }
  if (const auto* s = n->as_string()) {
    if (const auto a = argument(key, s->get())) {
      if (const auto* i = std::get_if<int64_t>(&*a)) return static_cast<double>(*i);
      if (const auto* d = std::get_if<double>(&*a)) return *d;
    }
  } else if (const std::optional<double> v = n->value<double>()) {
    return *v;
  }
  fail("{} must be a number, got {}", key, toml_type(*n));
}

bool LayerSpec::flag(std::string_view key, std::optional<bool> fallback) const {
  const toml::node* n = node(key);
  if (n == nullptr) {
    if (!fallback) fail("needs {} (true or false)", key);
    return *fallback;
  }
  if (const auto* s = n->as_string())
    if (const auto a = argument(key, s->get()))
      if (const auto* b = std::get_if<bool>(&*a)) return *b;
  if (const auto* b = n->as_boolean()) return b->get();
  fail("{} must be true or false, got {}", key, toml_type(*n));
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

// --- Building ---

namespace {

struct Row {
  int depth;
  std::string label, what;
  Shape output;
  int64_t parameters;
};

// One build of a network from a file: the scopes of arguments, the rows of the summary.
class Builder {
 public:
  Builder(const ModelFile& file, const NetworkInputs& inputs, RngStream& rng)
      : file_(file),
        root_(file.document().root),
        context_{.rng = rng,
                 .seed = inputs.seed,
                 .sequence = {},
                 .branch = {},
                 .rows = {},
                 .order_rows = {}} {
    file_scope_ = file.arguments();
    for (const auto& [name, value] : inputs.arguments) {
      const auto it = file_scope_.find(name);
      if (it == file_scope_.end()) {
        std::vector<std::string> names;
        for (const auto& [n, v] : file.arguments()) names.push_back(n);
        model_error(fmt::format("{} has no argument '{}'{}", file.source(), name,
                                names.empty()
                                    ? std::string(" (it declares none)")
                                    : fmt::format("; it declares {}", fmt::join(names, ", "))));
      }
      if (it->second.index() != value.index() &&
          !(std::holds_alternative<double>(it->second) && std::holds_alternative<int64_t>(value)))
        model_error(fmt::format("{}: argument '{}' is {} by default, not {}", file.source(), name,
                                argument_text(it->second), argument_text(value)));
      it->second =
          std::holds_alternative<double>(it->second) && std::holds_alternative<int64_t>(value)
              ? ModelArgument{static_cast<double>(std::get<int64_t>(value))}
              : value;
    }
    file_scope_["classes"] = ModelArgument{inputs.classes};
    file_scope_["outputs"] = ModelArgument{inputs.classes};  // the same, for regression
    context_.sequence = [this](const LayerSpec& owner, const toml::array& layers, const Shape& in) {
      return sequence(owner.scope(), layers, in, owner.label(), depth_ + 1);
    };
    context_.rows = [this] { return rows_.size(); };
    context_.order_rows = [this](const std::vector<size_t>& starts) {
      std::vector<size_t> sorted = starts;
      std::sort(sorted.begin(), sorted.end());
      std::vector<Row> out;
      for (const size_t start : starts) {
        const auto next = std::upper_bound(sorted.begin(), sorted.end(), start);
        const size_t end = next == sorted.end() ? rows_.size() : *next;
        out.insert(out.end(), rows_.begin() + static_cast<std::ptrdiff_t>(start),
                   rows_.begin() + static_cast<std::ptrdiff_t>(end));
      }
      rows_.resize(sorted.front());
      rows_.insert(rows_.end(), out.begin(), out.end());
    };
    context_.branch = [this](const LayerSpec& owner, const toml::node& layer,
                             const std::string& label, const Shape& in) {
      return build(owner.scope(), layer, in, label, depth_ + 1);
    };
  }

  Network run(const Shape& sample) {
    const Shape in = with_batch(sample);
    const toml::array& layers = *root_.get("layers")->as_array();
    std::shared_ptr<Sequential> net = sequence(file_scope_, layers, in, "", 0);
    fuse_conv_relu_maxpool(*net);
    const Shape out = infer(*net, in, [&] { return file_.source(); });
    return Network{.module = net, .output_shape = without_batch(out), .summary = summary(*net)};
  }

 private:
  static Shape with_batch(const Shape& s) {
    std::vector<int64_t> d{1};
    for (int i = 0; i < s.ndim(); ++i) d.push_back(s[i]);
    return Shape(d);
  }
  static Shape without_batch(const Shape& s) {
    std::vector<int64_t> d;
    for (int i = 1; i < s.ndim(); ++i) d.push_back(s[i]);
    return Shape(d);
  }

  // The output shape of `m` for input `in`, by running it on zeros in eval mode: a mismatch
  // inside an op is reported as the layer's, with the shapes.
  template <typename Where>
  static Shape infer(Module& m, const Shape& in, Where where) {
    NoGradGuard no_grad;
    const bool training = m.is_training();
    m.eval();
    try {
      const Variable y = m.forward(Variable(Tensor::zeros(in)));
      m.train(training);
      return y.shape();
    } catch (const Error& e) {
      m.train(training);
      model_error(fmt::format("{}: does not fit its input {} (shown with a batch of 1): {}",
                              where(), in.str(), e.what()));
    }
  }

  std::shared_ptr<Sequential> sequence(const ModelArguments& scope, const toml::array& layers,
                                       const Shape& in, const std::string& label, int depth) {
    auto seq = std::make_shared<Sequential>();
    Shape shape = in;
    int64_t index = 0;
    std::set<std::string> names;
    const auto path = [&](const std::string& n) { return label.empty() ? n : label + "." + n; };
    for (const toml::node& layer : layers) {
      const toml::table* t = layer.as_table();
      if (t == nullptr)
        model_error(fmt::format("{}:{}: layer {} must be a table, got {}", file_.source(),
                                line_of(layer), path(std::to_string(index)), toml_type(layer)));
      if (!included(*t, scope, path(std::to_string(index)))) continue;
      const std::string name = (*t)["name"].value_or(std::to_string(index));
      const std::string child = path(name);
      if (!names.insert(name).second)
        model_error(fmt::format("{}:{}: layer {}: the name '{}' is taken by an earlier layer",
                                file_.source(), line_of(layer), child, name));
      const int saved = depth_;
      depth_ = depth;
      auto [built, out] = build_one(scope, *t, shape, child, depth);
      depth_ = saved;
      if (built.module) {
        seq->add(name, built.module);
      } else {
        const int64_t count = built.parameter.numel();
        seq->add_parameter(name, std::move(built.parameter));
        rows_.push_back({depth, child, fmt::format("{} (positions)", name), out, count});
      }
      shape = out;
      ++index;
    }
    if (index == 0)
      model_error(fmt::format("{}: layers {} are all left out by their `if`", file_.source(),
                              label.empty() ? "of the network" : label));
    return seq;
  }

  bool included(const toml::table& t, const ModelArguments& scope, const std::string& label) {
    if (!t.contains("if")) return true;
    const LayerSpec spec(t, scope, file_.source(), label);
    const toml::node* n = t.get("if");
    if (n->is_boolean()) return n->as_boolean()->get();
    const std::string text = spec.text("if");
    if (!text.starts_with("$") && !text.starts_with("!$"))
      spec.fail("if must be true, false or an argument (\"$name\", \"!$name\"), got '{}'", text);
    const bool negate = text.starts_with("!$");
    const auto it = scope.find(text.substr(negate ? 2 : 1));
    if (it == scope.end()) spec.number("if");  // fails naming the known arguments
    const bool on = std::visit([](auto v) { return v != decltype(v){}; }, it->second);
    return negate ? !on : on;
  }

  // A layer inside a container (a branch): built, summarised, with its output shape.
  std::pair<std::shared_ptr<Module>, Shape> build(const ModelArguments& scope,
                                                  const toml::node& layer, const Shape& in,
                                                  const std::string& label, int depth) {
    const toml::table* t = layer.as_table();
    if (t == nullptr)
      model_error(fmt::format("{}:{}: layer {} must be a table, got {}", file_.source(),
                              line_of(layer), label, toml_type(layer)));
    const int saved = depth_;
    depth_ = depth;
    auto [built, out] = build_one(scope, *t, in, label, depth);
    depth_ = saved;
    if (!built.module)
      model_error(fmt::format("{}:{}: layer {}: positions belong in a list of layers, not a branch",
                              file_.source(), line_of(layer), label));
    return {built.module, out};
  }

  // Builds one layer table (a block reference is replaced by its block), adds its summary
  // row, and gives its output shape.
  std::pair<BuiltLayer, Shape> build_one(const ModelArguments& scope, const toml::table& t,
                                         const Shape& in, const std::string& label, int depth) {
    if (depth + blocks_in_use_ > kMaxDepth)
      model_error(
          fmt::format("{}:{}: layer {}: layers nest deeper than {}; does a block use "
                      "itself?",
                      file_.source(), line_of(t), label, kMaxDepth));
    if (t.contains("block")) return build_block(scope, t, in, label, depth);
    const LayerSpec spec(t, scope, file_.source(), label);
    const std::string type = spec.type();
    if (!t.contains("type")) spec.fail("needs a type, or a block to use");
    const auto& kinds = layer_kinds();
    const auto kind = std::find_if(kinds.begin(), kinds.end(),
                                   [&](const LayerKind& k) { return k.type == type; });
    if (kind == kinds.end()) {
      std::vector<std::string_view> names;
      for (const LayerKind& k : kinds) names.push_back(k.type);
      spec.fail("unknown layer type '{}'; known types: {}", type, fmt::join(names, ", "));
    }
    spec.check_keys(kind->keys);
    if (kind->input_rank != 0 && static_cast<int>(in.ndim()) != kind->input_rank)
      spec.fail("takes {}, got {} (the output of the layer before it)", kind->input_layout,
                in.str());
    const size_t row = rows_.size();
    BuiltLayer built = kind->build(spec, in, context_);
    if (!built.module) return {std::move(built), in};
    const Shape out = infer(*built.module, in, [&] { return spec.where(); });
    rows_.insert(rows_.begin() + static_cast<std::ptrdiff_t>(row),
                 Row{depth, label, built.module->describe(), out, built.module->num_parameters()});
    return {std::move(built), out};
  }

  // {block = "name", arg = value, ...}: the block's table built with its arguments.
  std::pair<BuiltLayer, Shape> build_block(const ModelArguments& scope, const toml::table& t,
                                           const Shape& in, const std::string& label, int depth) {
    const LayerSpec ref(t, scope, file_.source(), label);
    const std::string name = ref.text("block");
    const toml::node* block = root_["blocks"][name].node();
    if (block == nullptr || !block->is_table()) {
      std::vector<std::string> names;
      if (const toml::table* b = root_["blocks"].as_table())
        for (const auto& [n, v] : *b) names.push_back(std::string(n.str()));
      ref.fail("uses block '{}', which [blocks] does not define{}", name,
               names.empty() ? std::string() : fmt::format(" (it has {})", fmt::join(names, ", ")));
    }
    const toml::table& body = *block->as_table();
    ModelArguments inner = file_scope_;
    ModelArguments declared;
    if (const toml::node* a = body.get("arguments")) {
      if (!a->is_table())
        model_error(fmt::format("{}:{}: block '{}': arguments must be a table", file_.source(),
                                line_of(*a), name));
      read_arguments(*a->as_table(), file_.source(), declared);
    }
    for (const auto& [key, value] : t) {
      const std::string k(key.str());
      if (k == "block" || k == "if" || k == "name") continue;
      const auto it = declared.find(k);
      if (it == declared.end()) ref.fail("block '{}' has no argument '{}'", name, k);
      it->second = std::visit(
          [&](auto fallback) -> ModelArgument {
            using T = decltype(fallback);
            if constexpr (std::is_same_v<T, bool>)
              return ref.flag(k);
            else if constexpr (std::is_same_v<T, int64_t>)
              return ref.integer(k);
            else
              return ref.number(k);
          },
          it->second);
    }
    for (const auto& [k, v] : declared) inner[k] = v;
    // The block's own table without `arguments`, read in the block's scope.
    toml::table layer = body;
    layer.erase("arguments");
    if (const auto given = t["name"].value<std::string>()) layer.insert_or_assign("name", *given);
    scopes_.push_back(std::make_unique<ModelArguments>(std::move(inner)));
    tables_.push_back(std::make_unique<toml::table>(std::move(layer)));
    ++blocks_in_use_;
    auto built = build_one(*scopes_.back(), *tables_.back(), in, label, depth);
    --blocks_in_use_;
    return built;
  }

  std::string summary(const Module& net) const {
    size_t width = 5;
    std::vector<std::string> layers;
    for (const Row& r : rows_) {
      layers.push_back(fmt::format("{:{}}{} {}", "", 2 * r.depth, r.label, r.what));
      width = std::max(width, layers.back().size());
    }
    std::string out = fmt::format("{}: {}\n{:<{}}  {:<18} {:>12}\n", file_.name(), file_.source(),
                                  "Layer", width, "Output shape", "Parameters");
    for (size_t i = 0; i < rows_.size(); ++i)
      out += fmt::format("{:<{}}  {:<18} {:>12}\n", layers[i], width,
                         without_batch(rows_[i].output).str(), rows_[i].parameters);
    out += fmt::format("Total parameters: {}\n", net.num_parameters());
    return out;
  }

  const ModelFile& file_;
  const toml::table& root_;
  BuildContext context_;
  ModelArguments file_scope_;
  std::vector<Row> rows_;
  int depth_ = 0;
  int blocks_in_use_ = 0;  // blocks being built inside one another
  // Scopes and tables made for blocks, kept while the build runs (specs refer to them).
  std::vector<std::unique_ptr<ModelArguments>> scopes_;
  std::vector<std::unique_ptr<toml::table>> tables_;
};

}  // namespace

Network build_network(const ModelFile& file, const NetworkInputs& inputs, RngStream& rng) {
  TIDE_CHECK(inputs.classes > 0, "{}: the data gives {} classes", file.source(), inputs.classes);
  return Builder(file, inputs, rng).run(inputs.sample);
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
