// ONNX's ops on values the host computes: constants, shapes, casts.
#include <cmath>

#include "tide/autograd/ops.hpp"
#include "tide/onnx/ops.hpp"

namespace tide {
namespace {

Tensor constant_tensor(const NodeContext& c) {
  if (const onnx::AttributeProto* a = c.attribute("value"))
    return tensor_from_proto(a->t(), c.where() + ": attribute 'value'");
  if (const onnx::AttributeProto* a = c.attribute("value_float")) return Tensor::scalar(a->f());
  if (const onnx::AttributeProto* a = c.attribute("value_int"))
    return Tensor::scalar(static_cast<double>(a->i()), DType::i64);
  if (const onnx::AttributeProto* a = c.attribute("value_floats")) {
    std::vector<float> v(a->floats().begin(), a->floats().end());
    return Tensor::from<float>(Shape({static_cast<int64_t>(v.size())}), v);
  }
  if (const onnx::AttributeProto* a = c.attribute("value_ints"))
    return int_vector(std::vector<int64_t>(a->ints().begin(), a->ints().end()));
  c.fail("a Constant needs one of the attributes value, value_float(s) or value_int(s)");
}

NodeFn build_constant(const NodeContext& c) {
  c.inputs_between(0, 0);
  const Value v = constant_value(constant_tensor(c));
  return [v](const std::vector<Value>&, RunState&) { return std::vector<Value>{v}; };
}

NodeFn build_shape(const NodeContext& c) {
  c.inputs_between(1, 1);
  const std::optional<int64_t> start =
      c.has_attribute("start") ? std::optional(c.integer("start")) : std::nullopt;
  const std::optional<int64_t> end =
      c.has_attribute("end") ? std::optional(c.integer("end")) : std::nullopt;
  return [start, end](const std::vector<Value>& in, RunState&) {
    const std::vector<int64_t>& d = in[0].shape().dims();
    const int64_t r = static_cast<int64_t>(d.size());
    auto clamp = [r](int64_t i) { return std::clamp(i < 0 ? i + r : i, int64_t{0}, r); };
    const int64_t b = clamp(start.value_or(0)), e = clamp(end.value_or(r));
    return std::vector<Value>{
        int_value(int_vector(std::vector<int64_t>(d.begin() + b, d.begin() + std::max(b, e))))};
  };
}

// Floats to integers toward zero, as C casts them; a value past 2^63 is refused.
Tensor truncated(const Tensor& t) {
  const std::vector<double> v = t.to_vector();
  std::vector<int64_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    TIDE_CHECK(std::isfinite(v[i]) && std::fabs(v[i]) < 9.2e18,
               "cannot cast {} at position {} to an integer", v[i], i);
    out[i] = static_cast<int64_t>(v[i]);
  }
  return int_tensor(t.shape(), out);
}

NodeFn build_cast(const NodeContext& c) {
  c.inputs_between(1, 1);
  const int64_t to = c.integer("to");
  using T = onnx::TensorProto;
  const bool to_float = to == T::FLOAT || to == T::DOUBLE || to == T::FLOAT16 || to == T::BFLOAT16;
  const bool to_int = to == T::INT8 || to == T::UINT8 || to == T::INT16 || to == T::UINT16 ||
                      to == T::INT32 || to == T::UINT32 || to == T::INT64 || to == T::UINT64 ||
                      to == T::BOOL;
  if (!to_float && !to_int) c.fail("attribute to = {} is not a type Tide casts to", to);
  const DType dtype = to == T::DOUBLE ? DType::f64 : DType::f32;
  const bool to_bool = to == T::BOOL;
  return [=](const std::vector<Value>& in, RunState&) {
    const Value& x = in[0];
    if (to_int) {
      Tensor t = x.is_int() ? x.ints : truncated(floats(x, 0).value());
      if (to_bool)
        t = int_binary(t, Tensor::scalar(0, DType::i64),
                       [](int64_t a, int64_t) { return static_cast<int64_t>(a != 0); });
      return std::vector<Value>{int_value(t)};
    }
    if (x.is_int()) return std::vector<Value>{float_value(Variable(x.ints.to(dtype)))};
    if (x.var.dtype() == dtype) return std::vector<Value>{x};
    TIDE_CHECK(!x.var.requires_grad() && x.var.is_leaf(),
               "Tide casts a value that is differentiated only to its own type, {}",
               dtype_name(x.var.dtype()));
    return std::vector<Value>{float_value(Variable(x.var.value().to(dtype)))};
  };
}

NodeFn build_constant_of_shape(const NodeContext& c) {
  c.inputs_between(1, 1);
  Tensor fill = Tensor::scalar(0.0);
  if (const onnx::AttributeProto* a = c.attribute("value"))
    fill = tensor_from_proto(a->t(), c.where() + ": attribute 'value'");
  if (fill.numel() != 1) c.fail("attribute value must hold one element, got {}", fill.numel());
  return [fill](const std::vector<Value>& in, RunState&) {
    const std::vector<int64_t> dims = int_list(ints(in[0], 0, "shape"));
    for (const int64_t d : dims) TIDE_CHECK(d >= 0, "the shape has a negative size {}", d);
    const Shape s(dims);
    check_size(s, "output");
    return std::vector<Value>{constant_value(Tensor::full(s, fill.item(), fill.dtype()))};
  };
}

NodeFn build_expand(const NodeContext& c) {
  c.inputs_between(2, 2);
  return [](const std::vector<Value>& in, RunState&) {
    const std::vector<int64_t> dims = int_list(ints(in[1], 1, "shape"));
    for (const int64_t d : dims) TIDE_CHECK(d >= 0, "the shape has a negative size {}", d);
    const Shape out = broadcast_shapes(in[0].shape(), Shape(dims));
    check_size(out, "output");
    if (in[0].is_int())
      return std::vector<Value>{int_value(int_binary(in[0].ints, Tensor::zeros(out, DType::i64),
                                                     [](int64_t a, int64_t) { return a; }))};
    const Variable& x = floats(in[0], 0);
    if (x.shape() == out) return std::vector<Value>{in[0]};
    return std::vector<Value>{float_value(x + Variable(Tensor::zeros(out, x.dtype())))};
  };
}

NodeFn pass_through(const NodeContext& c) {
  c.inputs_between(1, 1);
  return [](const std::vector<Value>& in, RunState&) { return std::vector<Value>{in[0]}; };
}

}  // namespace

std::vector<OpKind> value_ops() {
  return {
      op_kind("Identity", 1, {}, pass_through),
      op_kind("Constant", 1, {"value", "value_float", "value_floats", "value_int", "value_ints"},
              build_constant),
      op_kind("Shape", 1, {"start", "end"}, build_shape),
      op_kind("Cast", 6, {"to"}, build_cast),
      op_kind("ConstantOfShape", 9, {"value"}, build_constant_of_shape, {0}),
      op_kind("Expand", 8, {}, build_expand, {1}),
  };
}

}  // namespace tide
