// Building a network from a model file: layer by layer in file order, each layer's output
// shape inferred, the summary's rows collected.
#include <new>
#include <set>

#include <fmt/ranges.h>

#include "tide/autograd/variable.hpp"
#include "tide/models/layer_spec.hpp"
#include "tide/nn/conv_layers.hpp"

namespace tide {

namespace {

constexpr int kMaxDepth = 32;  // nested blocks and branches; deeper is a block that uses itself
// What one network may hold: layers (a file of blocks that use blocks many times can ask for
// millions) and parameters (8 GiB in f32), checked as it is built.
constexpr int64_t kMaxLayers = 20000;
constexpr double kMaxValues = 2147483648.0;

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

  Builder(const Builder&) = delete;  // the context's functions hold `this`
  Builder& operator=(const Builder&) = delete;

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
    } catch (const std::bad_alloc&) {
      m.train(training);
      model_error(
          fmt::format("{}: its output for input {} (a batch of 1) is more than this "
                      "machine's memory holds",
                      where(), in.str()));
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
    if (t->contains("if"))
      model_error(
          fmt::format("{}:{}: layer {}: a branch is always built; `if` belongs on the "
                      "layers of a list (inside a sequential branch)",
                      file_.source(), line_of(layer), label));
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
    if (++layers_ > kMaxLayers)
      spec.fail("the network has more than {} layers (do blocks use each other many times?)",
                kMaxLayers);
    const size_t row = rows_.size();
    BuiltLayer built = kind->build(spec, in, context_);
    // Containers count their children's parameters, which were counted as those were built.
    const bool container =
        kind->type == "sequential" || kind->type == "concat" || kind->type == "add";
    values_ +=
        built.module ? (container ? 0 : built.module->num_parameters()) : built.parameter.numel();
    if (static_cast<double>(values_) > kMaxValues)
      spec.fail("the network would hold {} parameters, more than 2^31", values_);
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
    if (body.contains("if"))
      model_error(
          fmt::format("{}:{}: block '{}' has an `if`: put it on the layers that use the "
                      "block, or on layers inside it",
                      file_.source(), line_of(body), name));
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
  int64_t layers_ = 0;     // layers built so far
  int64_t values_ = 0;     // parameters so far
  // Scopes and tables made for blocks, kept while the build runs (specs refer to them).
  std::vector<std::unique_ptr<ModelArguments>> scopes_;
  std::vector<std::unique_ptr<toml::table>> tables_;
};

}  // namespace

Network build_network(const ModelFile& file, const NetworkInputs& inputs, RngStream& rng) {
  TIDE_CHECK(inputs.classes > 0, "{}: the data gives {} classes", file.source(), inputs.classes);
  return Builder(file, inputs, rng).run(inputs.sample);
}

}  // namespace tide
