#include "tide/onnx/patterns.hpp"

#include <cmath>
#include <optional>

#include "tide/autograd/ops.hpp"

namespace tide {
namespace {

using onnx::NodeProto;

// The graph's edges, and questions about them.
class Edges {
 public:
  Edges(const std::vector<const NodeProto*>& order, const std::map<std::string, Tensor>& constants,
        const std::set<std::string>& outputs)
      : constants_(constants), outputs_(outputs) {
    for (const NodeProto* n : order) {
      for (const std::string& o : n->output()) producer_[o] = n;
      for (const std::string& i : n->input()) readers_[i].push_back(n);
    }
  }

  const NodeProto* producer(const std::string& value) const {
    const auto it = producer_.find(value);
    return it == producer_.end() ? nullptr : it->second;
  }
  // Whether `value` is a constant scalar within 1e-4 (relative) of `expected`.
  bool scalar(const std::string& value, double expected) const {
    const auto it = constants_.find(value);
    return it != constants_.end() && it->second.numel() == 1 && it->second.dtype() != DType::i64 &&
           std::fabs(it->second.item() - expected) <= 1e-4 * std::fabs(expected);
  }
  // The constant scalar `value` holds, if it is one.
  std::optional<double> scalar(const std::string& value) const {
    const auto it = constants_.find(value);
    if (it == constants_.end() || it->second.numel() != 1 || it->second.dtype() == DType::i64)
      return std::nullopt;
    return it->second.item();
  }
  // The one reader of `value`, a node of type `op` with `arity` inputs, if it is all that
  // reads it (and `value` is not a graph output).
  const NodeProto* only_reader(const std::string& value, std::string_view op, int arity) const {
    const auto it = readers_.find(value);
    if (outputs_.contains(value) || it == readers_.end() || it->second.size() != 1) return nullptr;
    const NodeProto* n = it->second[0];
    return n->op_type() == op && n->input_size() == arity && n->output_size() >= 1 ? n : nullptr;
  }
  const std::vector<const NodeProto*>& readers_of(const std::string& value) const {
    static const std::vector<const NodeProto*> none;
    const auto it = readers_.find(value);
    return it == readers_.end() ? none : it->second;
  }
  // How many nodes read `value`, counting the graph's output as one.
  size_t readers(const std::string& value) const {
    const auto it = readers_.find(value);
    return (it == readers_.end() ? 0 : it->second.size()) + (outputs_.contains(value) ? 1 : 0);
  }

 private:
  const std::map<std::string, Tensor>& constants_;
  const std::set<std::string>& outputs_;
  std::map<std::string, const NodeProto*> producer_;
  std::map<std::string, std::vector<const NodeProto*>> readers_;
};

// The input of binary node n that is not `one`, or "" when neither is.
std::string other(const NodeProto* n, const std::string& one) {
  if (n->input(0) == one) return n->input(1);
  if (n->input(1) == one) return n->input(0);
  return "";
}

std::vector<int64_t> ints_attribute(const NodeProto* n, std::string_view name) {
  for (const onnx::AttributeProto& a : n->attribute())
    if (a.name() == name && a.type() == onnx::AttributeProto::INTS)
      return {a.ints().begin(), a.ints().end()};
  return {};
}

bool keeps_dims(const NodeProto* n) {
  for (const onnx::AttributeProto& a : n->attribute())
    if (a.name() == "keepdims") return a.type() == onnx::AttributeProto::INT && a.i() == 1;
  return true;
}

// x * 0.5 * (1 + erf(x / sqrt 2)), with the last two products in either order.
void find_gelu(const Edges& e, const NodeProto* erf, Fusions& out) {
  if (erf->op_type() != "Erf" || erf->input_size() != 1) return;
  const NodeProto* scale = e.producer(erf->input(0));
  if (scale == nullptr || scale->input_size() != 2) return;
  const bool div = scale->op_type() == "Div" && e.scalar(scale->input(1), std::sqrt(2.0));
  const bool mul = scale->op_type() == "Mul" && e.scalar(scale->input(1), std::sqrt(0.5));
  if (!div && !mul) return;
  const std::string x = scale->input(0);
  if (e.only_reader(scale->output(0), "Erf", 1) != erf) return;
  const NodeProto* plus = e.only_reader(erf->output(0), "Add", 2);
  if (plus == nullptr || !e.scalar(other(plus, erf->output(0)), 1.0)) return;
  const NodeProto* m1 = e.only_reader(plus->output(0), "Mul", 2);
  if (m1 == nullptr) return;
  const NodeProto* m2 = e.only_reader(m1->output(0), "Mul", 2);
  if (m2 == nullptr) return;
  const std::string a = other(m1, plus->output(0)), b = other(m2, m1->output(0));
  if (!((a == x && e.scalar(b, 0.5)) || (e.scalar(a, 0.5) && b == x))) return;
  out.skipped.insert({scale, erf, plus, m1});
  out.at[m2] =
      Fusion{.inputs = {x}, .op = "GELU", .run = [](const std::vector<Value>& in, RunState&) {
               return std::vector<Value>{float_value(gelu(in[0].var))};
             }};
}

// (x - mean) / sqrt(var + eps) * weight + bias over the last k dimensions, var the mean of
// the squared differences: what torch.onnx writes for nn.LayerNorm before opset 17. The
// weight and bias must be initializers (so they have the normalised dimensions' shape).
void find_layer_norm(const Edges& e, const NodeProto* mean, const std::set<std::string>& tensors,
                     Fusions& out) {
  if (mean->op_type() != "ReduceMean" || mean->input_size() != 1 || !keeps_dims(mean)) return;
  const std::vector<int64_t> axes = ints_attribute(mean, "axes");
  const int k = static_cast<int>(axes.size());
  if (k == 0) return;
  for (int i = 0; i < k; ++i)
    if (axes[i] != i - k) return;  // [-k, ..., -1]: the last k dimensions, in order
  const std::string x = mean->input(0);
  const NodeProto* sub = e.only_reader(mean->output(0), "Sub", 2);
  if (sub == nullptr || sub->input(0) != x || sub->input(1) != mean->output(0)) return;
  const std::string d = sub->output(0);
  const std::vector<const NodeProto*>& uses = e.readers_of(d);
  if (uses.size() != 2 || e.readers(d) != 2) return;
  const NodeProto* square = uses[0]->op_type() == "Pow" ? uses[0] : uses[1];
  const NodeProto* divide = square == uses[0] ? uses[1] : uses[0];
  if (square->op_type() != "Pow" || square->input_size() != 2 || square->input(0) != d ||
      !e.scalar(square->input(1), 2.0))
    return;
  const NodeProto* variance = e.only_reader(square->output(0), "ReduceMean", 1);
  if (variance == nullptr || ints_attribute(variance, "axes") != axes || !keeps_dims(variance))
    return;
  const NodeProto* plus_eps = e.only_reader(variance->output(0), "Add", 2);
  if (plus_eps == nullptr) return;
  const std::optional<double> eps = e.scalar(other(plus_eps, variance->output(0)));
  if (!eps || !(*eps > 0)) return;
  const NodeProto* root = e.only_reader(plus_eps->output(0), "Sqrt", 1);
  if (root == nullptr || e.only_reader(root->output(0), "Div", 2) != divide ||
      divide->input(0) != d || divide->input(1) != root->output(0))
    return;
  const NodeProto* scale = e.only_reader(divide->output(0), "Mul", 2);
  if (scale == nullptr) return;
  const std::string weight = other(scale, divide->output(0));
  const NodeProto* shift = e.only_reader(scale->output(0), "Add", 2);
  if (shift == nullptr) return;
  const std::string bias = other(shift, scale->output(0));
  if (!tensors.contains(weight) || !tensors.contains(bias)) return;
  out.skipped.insert({mean, sub, square, variance, plus_eps, root, divide, scale});
  out.at[shift] = Fusion{.inputs = {x, weight, bias},
                         .op = "LayerNorm",
                         .run = [k, epsilon = *eps](const std::vector<Value>& in, RunState&) {
                           return std::vector<Value>{float_value(
                               layer_norm(in[0].var, k, in[1].var, in[2].var, epsilon))};
                         }};
}

}  // namespace

Fusions find_fusions(const std::vector<const NodeProto*>& order,
                     const std::map<std::string, Tensor>& constants,
                     const std::set<std::string>& initializers,
                     const std::set<std::string>& outputs) {
  const Edges e(order, constants, outputs);
  Fusions out;
  for (const NodeProto* n : order) {
    find_gelu(e, n, out);
    find_layer_norm(e, n, initializers, out);
  }
  return out;
}

}  // namespace tide
