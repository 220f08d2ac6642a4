// Inside the model-file reader: one layer's table read with the arguments in scope, and the
// context a network is built in. Only models/model_file.cpp and models/layer_kinds.cpp
// include this (it brings in toml++).
#pragma once

#include <array>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "tide/models/model_file.hpp"
#include "tide/nn/layers.hpp"

namespace tide {

// Throws a tide::Error with `message`, which names the file and line itself.
[[noreturn]] inline void model_error(std::string message) {
  detail::throw_error(__FILE__, __LINE__, std::move(message));
}

struct ModelFile::Document {
  toml::table root;
};

// What a TOML value is, for messages ("an integer", "a table").
std::string toml_type(const toml::node& n);
// The line a value starts on.
int64_t line_of(const toml::node& n);
// An argument's value from a TOML literal: a switch, an integer or a number; else nullopt.
std::optional<ModelArgument> argument_value(const toml::node& n);
std::string argument_text(const ModelArgument& a);
// Reads a table of arguments (the file's [arguments], a block's `arguments`) into `out`;
// throws naming `where` and the line of a value that is not an argument's.
void read_arguments(const toml::table& t, const std::string& where, ModelArguments& out);

// A layer's table, its place in the file, and the arguments its `$name` values refer to.
class LayerSpec {
 public:
  LayerSpec(const toml::table& table, const ModelArguments& scope, std::string source,
            std::string label);

  const toml::table& table() const { return table_; }
  const ModelArguments& scope() const { return scope_; }
  const std::string& source() const { return source_; }
  const std::string& label() const { return label_; }  // "2.1" for child 1 of layer 2
  int64_t line() const;
  std::string type() const;
  // "net.toml:12: layer 2.1 (conv2d)": where a message about this layer starts.
  std::string where() const;

  bool has(std::string_view key) const { return table_.contains(key); }
  // The value of `key`, a literal or an argument ("$name", "!$name" for a negated switch),
  // or `fallback` when the key is absent. Throws naming the layer, key and what was expected.
  int64_t integer(std::string_view key, std::optional<int64_t> fallback = {}) const;
  double number(std::string_view key, std::optional<double> fallback = {}) const;
  bool flag(std::string_view key, std::optional<bool> fallback = {}) const;
  std::string text(std::string_view key, std::optional<std::string> fallback = {}) const;
  // An integer for both dimensions, or [height, width].
  std::array<int64_t, 2> pair(std::string_view key, std::array<int64_t, 2> fallback) const;
  std::vector<int64_t> integers(std::string_view key) const;
  // The array at `key`, which must be there.
  const toml::array& array(std::string_view key) const;

  // Refuses keys other than `keys` and the ones every layer takes (type, name, if).
  void check_keys(const std::vector<std::string_view>& keys) const;
  template <typename... Args>
  [[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) const {
    model_error(fmt::format("{}: {}", where(), fmt::format(format, std::forward<Args>(args)...)));
  }

 private:
  const toml::node* node(std::string_view key) const;
  // The argument `text` names ("$name" or "!$name"), or nullopt when it names none.
  std::optional<ModelArgument> argument(std::string_view key, const std::string& text) const;
  // The value of `key` as an argument or a literal switch or number; nullopt when the key is
  // absent; throws when it is another kind of value. `what` names the kind expected.
  std::optional<ModelArgument> scalar(std::string_view key, const char* what) const;

  const toml::table& table_;
  const ModelArguments& scope_;
  std::string source_, label_;
};

// What a layer kind builds: a module, or (type "positions") a parameter the enclosing
// sequence adds to its input.
struct BuiltLayer {
  std::shared_ptr<Module> module;
  Tensor parameter;
};

// The state of one build: the weights' stream, the counters that give dropout masks their
// ids as the built-in networks did, and the way back into the reader for nested layers.
struct BuildContext {
  RngStream& rng;
  uint64_t seed = 0;
  uint64_t dropouts = 0;  // Dropout layers built so far: the next one's id
  uint64_t encoders = 0;  // transformer encoder layers built so far: the next one's id
  // Builds the layers of `layers` (each a table) as a Sequential for input `in` (with the
  // batch dimension), their labels `label`.0, `label`.1, ...
  std::function<std::shared_ptr<Sequential>(const LayerSpec& owner, const toml::array& layers,
                                            const Shape& in)>
      sequence;
  // Builds one layer (a table in `owner`'s array), labelled `label`; the module and its
  // output shape.
  std::function<std::pair<std::shared_ptr<Module>, Shape>(
      const LayerSpec& owner, const toml::node& layer, const std::string& label, const Shape& in)>
      branch;
  // The summary's row count, and a reordering of its last rows: those from `starts`' least
  // on, in runs beginning at each of `starts`, put in the order `starts` lists them.
  std::function<size_t()> rows;
  std::function<void(const std::vector<size_t>& starts)> order_rows;
};

// One row of the table of layer kinds: its type, its keys (besides type, name and if), the
// rank of input it takes (0: any) and how it is built for input shape `in` (with batch).
struct LayerKind {
  std::string_view type;
  std::vector<std::string_view> keys;
  int input_rank = 0;
  std::string_view input_layout;  // "(N, C, H, W)": how a message names the expected input
  std::function<BuiltLayer(const LayerSpec&, const Shape& in, BuildContext&)> build;
};

const std::vector<LayerKind>& layer_kinds();

}  // namespace tide
