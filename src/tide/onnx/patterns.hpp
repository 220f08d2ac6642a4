// Inside the ONNX layer: runs of nodes torch.onnx.export writes for one PyTorch op, each run
// as Tide's one op (which computes the same, faster and with one node's rounding).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "tide/onnx/graph.hpp"

namespace tide {

// One run found: the values its op reads, the op's name for the summary, and how it runs.
struct Fusion {
  std::vector<std::string> inputs;
  std::string op;
  NodeFn run;
};

// The runs of a graph: every node of a run but its last is skipped; the last runs the fusion.
struct Fusions {
  std::set<const onnx::NodeProto*> skipped;
  std::map<const onnx::NodeProto*, Fusion> at;
};

// Finds, in nodes `order` (constants: the values known before the graph runs; outputs: the
// graph's outputs, which no run may hide):
// - GELU, x * 0.5 * (1 + erf(x / sqrt 2)): five nodes;
// - layer norm before opset 17, ReduceMean, Sub, Pow 2, ReduceMean, Add eps, Sqrt, Div, Mul
//   by the weight and Add of the bias over the last dimensions: nine nodes.
// A run is taken only when no value inside it is read from outside; a layer norm's weight
// and bias must be among `initializers`.
Fusions find_fusions(const std::vector<const onnx::NodeProto*>& order,
                     const std::map<std::string, Tensor>& constants,
                     const std::set<std::string>& initializers,
                     const std::set<std::string>& outputs);

}  // namespace tide
