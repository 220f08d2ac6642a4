// The description of the network a run trains: a model file (a shipped one or the user's
// TOML) or an ONNX graph. Both build the same Network; a run directory keeps the file it was
// built from (model.toml or model.onnx) for `tide predict`.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "tide/models/model_file.hpp"
#include "tide/onnx/onnx.hpp"

namespace tide {

class NetworkFile {
 public:
  // Reads `path`: an ONNX model when it ends in .onnx, else a model file.
  static NetworkFile read(const std::string& path);
  // The shipped model file of `name` (`tide train --model cnn`).
  static NetworkFile shipped(const std::string& name);

  const std::string& source() const;
  bool is_onnx() const { return std::holds_alternative<OnnxModel>(file_); }
  // The arguments a model file declares; an ONNX graph declares none.
  const ModelArguments& arguments() const;
  // What a model file's [train] table recommends; nothing for an ONNX graph.
  std::vector<RecommendedOption> recommended() const;
  // The network for `inputs`: a model file draws its weights from `rng`; an ONNX graph
  // keeps the values of its initializers.
  Network build(const NetworkInputs& inputs, RngStream& rng) const;
  // The file a run directory keeps it as, and its content.
  std::string run_file_name() const { return is_onnx() ? "model.onnx" : "model.toml"; }
  std::string content() const;

 private:
  explicit NetworkFile(std::variant<ModelFile, OnnxModel> f) : file_(std::move(f)) {}
  std::variant<ModelFile, OnnxModel> file_;
};

}  // namespace tide
