// Inside the ONNX layer: the module an imported graph runs as.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tide/onnx/graph.hpp"

namespace tide {

// An ONNX graph as a Module: its float initializers are parameters and buffers under their
// ONNX names, and forward() runs the nodes in order as Tide's ops.
class OnnxNetwork : public Module {
 public:
  OnnxNetwork(OnnxModel model, uint64_t seed);

  Variable forward(const Variable& x) override;
  std::string describe() const override;
  void begin_step(int64_t step) override;
  const OnnxModel& model() const { return model_; }

  // One node (or a fused run of them) as it runs: its function, the values it reads and
  // writes (-1: absent) and their names, and the values no later node reads, dropped after it.
  struct Step {
    NodeFn run;
    std::vector<int> in, out;
    std::vector<std::string> reads;
    std::vector<int> release;
    std::string where;  // "model.onnx: node '/fc/Gemm' (Gemm, opset 13)"
    std::string name, op;
  };
  const std::vector<Step>& steps() const { return steps_; }
  // The shape of each step's first output in the last forward; nullopt for integers.
  const std::vector<std::optional<Shape>>& output_shapes() const { return shapes_; }

 private:
  OnnxModel model_;
  std::vector<Step> steps_;
  std::vector<std::pair<int, Value>> statics_;  // parameters and constants, by value id
  int values_ = 0, input_ = -1, output_ = -1;
  bool integer_input_ = false;
  std::vector<std::unique_ptr<DropoutStreams>> dropouts_;
  std::vector<std::optional<Shape>> shapes_;
};

}  // namespace tide
