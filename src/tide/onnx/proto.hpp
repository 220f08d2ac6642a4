// Inside the ONNX layer: the protobuf messages (onnx.pb.h, compiled by protoc from Debian's
// onnx.proto) and conversions between TensorProto and Tensor. Only src/tide/onnx includes it.
#pragma once

#include <map>
#include <string>

#include "onnx.pb.h"
#include "tide/onnx/onnx.hpp"
#include "tide/tensor/tensor.hpp"

namespace tide {

struct OnnxModel::Proto {
  onnx::ModelProto model;
  int64_t opset = 0;
  // The graph's nodes in an order where every node comes after the nodes it reads from.
  std::vector<const onnx::NodeProto*> order;
  // Initializers by name.
  std::map<std::string, const onnx::TensorProto*> initializers;
};

// A node as messages name it: "node '/fc1/Gemm' (Gemm, opset 13)"; an unnamed node by its
// place in the file, "node #3 (Gemm, opset 13)".
std::string node_label(const onnx::NodeProto& node, int index, int64_t opset);

// The tensor a TensorProto holds: float, double and float16/bfloat16 as f32 or f64, every
// integer type and bool as i64. Checks the element count against the data before allocating;
// throws naming `what` for data that does not match the dimensions, external data, strings
// and complex numbers.
Tensor tensor_from_proto(const onnx::TensorProto& t, const std::string& what);
// Writes `t` (f32, f64 or i64) into `out` as raw data, under `name`.
void tensor_to_proto(const Tensor& t, const std::string& name, onnx::TensorProto* out);

}  // namespace tide
