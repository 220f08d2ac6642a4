// ONNX graphs in and out. An ONNX file is a second way to describe a network, beside the
// model files: `build_network` makes the same `Network` of it, which `tide train` trains,
// and `write_onnx` writes any network Tide trains as ONNX (docs/onnx.md).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tide/models/model_file.hpp"
#include "tide/nn/module.hpp"

namespace tide {

// The opsets of ONNX's default domain Tide reads: those torch.onnx.export writes (13 to 17)
// and the ones before them whose ops mean the same.
inline constexpr int64_t kOnnxMinOpset = 7;
inline constexpr int64_t kOnnxMaxOpset = 17;
// The opset write_onnx writes.
inline constexpr int64_t kOnnxExportOpset = 17;

// A parsed and checked ONNX model. Cheap to copy; the protobuf is shared.
class OnnxModel {
 public:
  // Parses `bytes`; `source` names it in messages. Throws one error for bytes that are not an
  // ONNX model (truncated, or another file), an opset outside [kOnnxMinOpset, kOnnxMaxOpset],
  // a node of another domain, an initializer whose data does not match its shape or lies
  // outside the file, a value no node, initializer or input gives, a cycle, and a graph
  // without exactly one input and one output.
  static OnnxModel parse(std::string_view bytes, std::string source);
  // Reads and parses the file at `path` (at most 2 GiB).
  static OnnxModel read(const std::string& path);

  const std::string& source() const { return source_; }
  int64_t opset() const;
  // The graph's input: its name and dimensions; a dimension without a fixed size (a named
  // batch dimension) is -1.
  const std::string& input_name() const;
  std::vector<int64_t> input_dims() const;
  const std::string& output_name() const;
  // "pytorch 1.13.0", or "" when the file does not say.
  std::string producer() const;
  // The model as protobuf bytes.
  std::string bytes() const;

  struct Proto;
  const Proto& proto() const { return *proto_; }

 private:
  std::string source_;
  std::shared_ptr<const Proto> proto_;
};

// Whether `path` names an ONNX file (it ends in .onnx).
bool is_onnx_path(const std::string& path);

// Builds the network of an ONNX graph for one sample of `inputs.sample`: the initializers
// become its parameters (trainable) and buffers (batch norm's running statistics) under their
// ONNX names, with the values the file holds; each node runs as Tide's op. Throws naming the
// node, its op type and the opset for an op or attribute Tide does not run, and naming the
// input when the sample's shape is not the graph's.
Network build_network(const OnnxModel& model, const NetworkInputs& inputs);

// Writes `module` (any network Tide builds: a model file's, a built-in one, an imported ONNX
// graph) as an ONNX model. A built network is written in opset kOnnxExportOpset with one
// input "input" of shape (batch, sample...), the batch dimension symbolic, and one output
// "output", its parameters and buffers the module's current values under the state dict's
// names. An imported graph is written as it came (its opset, names and shapes), its
// initializers holding the trained values. Throws naming the layer for a module ONNX cannot
// express.
void write_onnx(Module& module, const Shape& sample, const std::string& path);
// The same model as bytes.
std::string onnx_bytes(Module& module, const Shape& sample);

}  // namespace tide
