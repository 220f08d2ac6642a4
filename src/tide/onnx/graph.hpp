// Inside the ONNX layer: how a graph's nodes become Tide's ops. Each ONNX op type Tide runs is
// one row of op_kinds() (op_table.cpp), whose build function reads the node's attributes
// once and returns the function that runs it.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tide/core/error.hpp"
#include "tide/nn/module.hpp"
#include "tide/onnx/proto.hpp"

namespace tide {

// A value on an edge of the running graph: floating point (differentiable), or integers
// (ONNX's integer and bool types: shapes, axes, indices), which are never differentiated.
struct Value {
  Variable var;
  Tensor ints;  // i64
  bool is_int() const { return ints.defined(); }
  const Shape& shape() const { return is_int() ? ints.shape() : var.shape(); }
};

inline Value float_value(Variable v) {
  return Value{.var = std::move(v), .ints = {}};
}
inline Value int_value(Tensor t) {
  return Value{.var = {}, .ints = std::move(t)};
}

struct RunState {
  bool training = false;
};

// Runs a node: its inputs (an absent optional input is a default Value) -> its outputs.
using NodeFn = std::function<std::vector<Value>(const std::vector<Value>& in, RunState& state)>;

// What a node's build function sees.
class NodeContext {
 public:
  NodeContext(const onnx::NodeProto& node, std::string where, int64_t opset,
              const std::map<std::string, Tensor>& buffers,
              const std::map<std::string, Tensor>& constants,
              std::function<DropoutStreams*()> new_dropout)
      : node_(node),
        where_(std::move(where)),
        opset_(opset),
        buffers_(buffers),
        constants_(constants),
        new_dropout_(std::move(new_dropout)) {}

  const onnx::NodeProto& node() const { return node_; }
  int64_t opset() const { return opset_; }
  // "model.onnx: node '/fc/Gemm' (Gemm, opset 13)"
  const std::string& where() const { return where_; }

  template <typename... Args>
  [[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) const {
    detail::throw_error(
        __FILE__, __LINE__,
        fmt::format("{}: {}", where_, fmt::format(format, std::forward<Args>(args)...)));
  }

  bool has_attribute(std::string_view name) const { return attribute(name) != nullptr; }
  int64_t integer(std::string_view name, std::optional<int64_t> fallback = {}) const;
  double number(std::string_view name, std::optional<double> fallback = {}) const;
  std::string text(std::string_view name, std::optional<std::string> fallback = {}) const;
  std::vector<int64_t> integers(std::string_view name,
                                std::optional<std::vector<int64_t>> fallback = {}) const;
  std::vector<std::string> texts(std::string_view name) const;
  const onnx::AttributeProto* attribute(std::string_view name) const;
  // Refuses an attribute's value other than `allowed`, naming both.
  void only(std::string_view name, int64_t value, int64_t allowed, std::string_view why) const;
  // Refuses attribute `name` from opset `opset` on, where ONNX made it `now` (an input).
  void removed_at(std::string_view name, int64_t opset, std::string_view now) const;

  // The node's inputs, counting absent optional ones (empty names).
  int inputs() const { return node_.input_size(); }
  bool has_input(int i) const { return i < node_.input_size() && !node_.input(i).empty(); }
  int outputs() const { return node_.output_size(); }
  bool has_output(int i) const { return i < node_.output_size() && !node_.output(i).empty(); }
  // Throws unless the node has from `min` to `max` inputs.
  void inputs_between(int min, int max) const;
  // The running statistic input i names (an initializer of floats); throws otherwise.
  Tensor buffer(int i, std::string_view what) const;
  // The value of input i when it is known before the graph runs (an initializer or a
  // Constant node's output), else nullopt.
  std::optional<Tensor> constant(int i) const;
  // The masks of a new Dropout node.
  DropoutStreams* new_dropout() const { return new_dropout_(); }

 private:
  const onnx::NodeProto& node_;
  std::string where_;
  int64_t opset_;
  const std::map<std::string, Tensor>& buffers_;
  const std::map<std::string, Tensor>& constants_;
  std::function<DropoutStreams*()> new_dropout_;
};

// A row of the table of ONNX ops: the type, the first opset whose meaning of the op the row
// implements, the attributes it reads (any other is refused, naming it), the inputs that are
// running statistics (buffers, not parameters) and those that are settings (a shape, a
// ratio: an initializer there is a constant, not a parameter), the outputs Tide computes
// (-1: any number), and how a node is built.
struct OpKind {
  std::string_view type;
  int64_t since = 1;
  std::vector<std::string_view> attributes;
  std::vector<int> buffer_inputs;
  std::vector<int> setting_inputs;
  int outputs = 1;
  std::function<NodeFn(const NodeContext&)> build;
};

const std::vector<OpKind>& op_kinds();
const OpKind* find_op_kind(std::string_view type);

}  // namespace tide
