#include "tide/classify/network_file.hpp"

#include "tide/core/read_file.hpp"

namespace tide {

NetworkFile NetworkFile::read(const std::string& path) {
  if (is_onnx_path(path)) return NetworkFile(OnnxModel::read(path));
  return NetworkFile(ModelFile::read(path));
}

NetworkFile NetworkFile::shipped(const std::string& name) {
  return NetworkFile(shipped_model(name));
}

const std::string& NetworkFile::source() const {
  return std::visit([](const auto& f) -> const std::string& { return f.source(); }, file_);
}

const ModelArguments& NetworkFile::arguments() const {
  static const ModelArguments none;
  return is_onnx() ? none : std::get<ModelFile>(file_).arguments();
}

std::vector<RecommendedOption> NetworkFile::recommended() const {
  if (is_onnx()) return {};
  return std::get<ModelFile>(file_).recommended();
}

Network NetworkFile::build(const NetworkInputs& inputs, RngStream& rng) const {
  if (is_onnx()) return build_network(std::get<OnnxModel>(file_), inputs);
  return build_network(std::get<ModelFile>(file_), inputs, rng);
}

std::string NetworkFile::content() const {
  if (is_onnx()) return std::get<OnnxModel>(file_).bytes();
  return std::get<ModelFile>(file_).text();
}

}  // namespace tide
