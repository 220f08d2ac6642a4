// Networks described in model files: TOML that names Tide's layers, their options and how
// they join (docs/model-files.md). The six networks of `tide train --model` are such files,
// shipped in models/ and compiled into the library.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "tide/core/rng.hpp"
#include "tide/nn/module.hpp"

namespace tide {

// A value a model file's argument takes: a switch, a count or a rate.
using ModelArgument = std::variant<bool, int64_t, double>;
using ModelArguments = std::map<std::string, ModelArgument>;

// An option the file recommends for training (its [train] table): a TOML key of
// `tide train`'s config with its value as text, and the line it is on.
struct RecommendedOption {
  std::string key;
  std::string value;
  int64_t line = 0;
};

// A parsed model file. Cheap to copy; the parsed document is shared.
class ModelFile {
 public:
  // Parses `text`; `source` names it in messages (a path, or "shipped model cnn").
  // Throws naming the source, line and column of malformed TOML, and the key of a top-level
  // table that is not [model], [arguments], [train], [blocks] or [[layers]].
  static ModelFile parse(const std::string& text, std::string source);
  // Reads and parses the file at `path` (at most 1 MB).
  static ModelFile read(const std::string& path);

  const std::string& source() const { return source_; }
  const std::string& text() const { return text_; }
  // [model] name, or the file's stem when it has none.
  const std::string& name() const { return name_; }
  // The arguments the file declares, with their defaults.
  const ModelArguments& arguments() const { return arguments_; }
  const std::vector<RecommendedOption>& recommended() const { return recommended_; }

  struct Document;
  const Document& document() const { return *document_; }

 private:
  std::string source_, text_, name_;
  ModelArguments arguments_;
  std::vector<RecommendedOption> recommended_;
  std::shared_ptr<const Document> document_;
};

// A network built from a model file, with the table torchinfo or Keras' summary() print.
struct Network {
  std::shared_ptr<Module> module;
  Shape output_shape;  // for one sample, without the batch dimension
  std::string summary;
};

// What a network is built for: one sample's shape (such as [1, 28, 28]), the outputs of its
// last layer (`$classes` in the file), values for the file's arguments (each must be declared
// there), and the seed of its dropout masks.
struct NetworkInputs {
  Shape sample;
  int64_t classes = 0;
  ModelArguments arguments;
  uint64_t seed = 0;
};

// Builds the network, drawing weights from `rng` layer by layer in file order, and infers
// every layer's output shape. Throws one error naming the source, line and layer for an
// unknown layer type or option, a missing or ill-typed value, an unknown argument, and for
// shapes that do not fit (naming the shapes).
Network build_network(const ModelFile& file, const NetworkInputs& inputs, RngStream& rng);

// The shipped model files (models/*.toml) by name: mlp, cnn, inception, lstm, gru, transformer.
// Throws listing the names for an unknown one.
const ModelFile& shipped_model(const std::string& name);
std::vector<std::string> shipped_model_names();

}  // namespace tide
