// The table of ONNX ops Tide runs, gathered from the op families (ops_*.cpp, one row an op
// with the attributes it reads and how a node is built), and what a build function sees of
// its node (NodeContext). Floating-point values are differentiated; integer values (shapes,
// axes, indices) are computed on the host as the graph runs, so a graph exported with a
// dynamic batch size reshapes for each batch.
#include "tide/onnx/ops.hpp"

namespace tide {

const std::vector<OpKind>& op_kinds() {
  static const std::vector<OpKind> table = [] {
    std::vector<OpKind> all;
    for (std::vector<OpKind> (*family)() : {value_ops, shape_ops, math_ops, nn_ops, recurrent_ops})
      for (OpKind& k : family()) all.push_back(std::move(k));
    return all;
  }();
  return table;
}

const OpKind* find_op_kind(std::string_view type) {
  for (const OpKind& k : op_kinds())
    if (k.type == type) return &k;
  return nullptr;
}

// ---------------------------------------------------------------- NodeContext

const onnx::AttributeProto* NodeContext::attribute(std::string_view name) const {
  for (const onnx::AttributeProto& a : node_.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

int64_t NodeContext::integer(std::string_view name, std::optional<int64_t> fallback) const {
  const onnx::AttributeProto* a = attribute(name);
  if (a == nullptr) {
    if (!fallback) fail("it needs the attribute {}", name);
    return *fallback;
  }
  if (a->type() != onnx::AttributeProto::INT) fail("attribute {} must be an integer", name);
  return a->i();
}

double NodeContext::number(std::string_view name, std::optional<double> fallback) const {
  const onnx::AttributeProto* a = attribute(name);
  if (a == nullptr) {
    if (!fallback) fail("it needs the attribute {}", name);
    return *fallback;
  }
  if (a->type() != onnx::AttributeProto::FLOAT) fail("attribute {} must be a float", name);
  return a->f();
}

std::string NodeContext::text(std::string_view name, std::optional<std::string> fallback) const {
  const onnx::AttributeProto* a = attribute(name);
  if (a == nullptr) {
    if (!fallback) fail("it needs the attribute {}", name);
    return *fallback;
  }
  if (a->type() != onnx::AttributeProto::STRING) fail("attribute {} must be a string", name);
  return a->s();
}

std::vector<int64_t> NodeContext::integers(std::string_view name,
                                           std::optional<std::vector<int64_t>> fallback) const {
  const onnx::AttributeProto* a = attribute(name);
  if (a == nullptr) {
    if (!fallback) fail("it needs the attribute {}", name);
    return *fallback;
  }
  if (a->type() != onnx::AttributeProto::INTS)
    fail("attribute {} must be a list of integers", name);
  return {a->ints().begin(), a->ints().end()};
}

std::vector<std::string> NodeContext::texts(std::string_view name) const {
  const onnx::AttributeProto* a = attribute(name);
  if (a == nullptr) return {};
  if (a->type() != onnx::AttributeProto::STRINGS)
    fail("attribute {} must be a list of strings", name);
  return {a->strings().begin(), a->strings().end()};
}

void NodeContext::only(std::string_view name, int64_t value, int64_t allowed,
                       std::string_view why) const {
  if (value != allowed)
    fail("attribute {} = {} is not supported ({}; it must be {})", name, value, why, allowed);
}

void NodeContext::removed_at(std::string_view name, int64_t opset, std::string_view now) const {
  if (opset_ >= opset && has_attribute(name))
    fail("attribute '{}' is not an attribute from opset {} on: it became {}", name, opset, now);
}

void NodeContext::inputs_between(int min, int max) const {
  int n = node_.input_size();
  while (n > 0 && node_.input(n - 1).empty()) --n;  // trailing optional inputs left out
  int required = 0;
  for (int i = 0; i < std::min(n, min); ++i)
    if (!node_.input(i).empty()) ++required;
  if (n > max || required < min)
    fail("it has {} inputs; it takes {}", n,
         min == max ? fmt::format("{}", min) : fmt::format("{} to {}", min, max));
}

Tensor NodeContext::buffer(int i, std::string_view what) const {
  const auto it = has_input(i) ? buffers_.find(node_.input(i)) : buffers_.end();
  if (it == buffers_.end())
    fail("its input {} ({}) must be an initializer of floats: Tide keeps it as a running statistic",
         i, what);
  return it->second;
}

std::optional<Tensor> NodeContext::constant(int i) const {
  if (!has_input(i)) return std::nullopt;
  const auto it = constants_.find(node_.input(i));
  if (it == constants_.end()) return std::nullopt;
  return it->second;
}

}  // namespace tide
