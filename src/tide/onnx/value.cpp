// Values on the host, which every op family shares, and the rows' constructor.
#include <cmath>

#include "tide/autograd/ops.hpp"
#include "tide/onnx/ops.hpp"

namespace tide {

OpKind op_kind(std::string_view type, int64_t since, std::vector<std::string_view> attributes,
               std::function<NodeFn(const NodeContext&)> build, std::vector<int> settings,
               int outputs) {
  return OpKind{.type = type,
                .since = since,
                .attributes = std::move(attributes),
                .buffer_inputs = {},
                .setting_inputs = std::move(settings),
                .outputs = outputs,
                .build = std::move(build)};
}

std::vector<int64_t> int_list(const Tensor& t) {
  const int64_t* p = t.data<int64_t>();
  return {p, p + t.numel()};
}

Tensor int_tensor(const Shape& shape, const std::vector<int64_t>& values) {
  return Tensor::from<int64_t>(shape, values);
}

Tensor int_vector(const std::vector<int64_t>& values) {
  return int_tensor(Shape({static_cast<int64_t>(values.size())}), values);
}

std::vector<int64_t> strides_of(const Shape& s) {
  std::vector<int64_t> st(s.ndim(), 1);
  for (int i = s.ndim() - 2; i >= 0; --i) st[i] = st[i + 1] * s[i + 1];
  return st;
}

Tensor integral(const Tensor& t, const char* what) {
  if (t.dtype() == DType::i64) return t;
  const std::vector<double> v = t.to_vector();
  std::vector<int64_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    TIDE_CHECK(std::isfinite(v[i]) && v[i] == std::floor(v[i]) && std::fabs(v[i]) < 9.0e15,
               "its {} must be integers, got {} at position {}", what, v[i], i);
    out[i] = static_cast<int64_t>(v[i]);
  }
  return int_tensor(t.shape(), out);
}

const Variable& floats(const Value& v, int i) {
  TIDE_CHECK(!v.is_int() && v.var.defined(), "input {} must be floating point, got {}", i,
             v.is_int() ? "integers" : "nothing");
  return v.var;
}

Tensor ints(const Value& v, int i, const char* what) {
  TIDE_CHECK(v.is_int() || v.var.defined(), "input {} ({}) is missing", i, what);
  return v.is_int() ? v.ints : integral(v.var.value(), what);
}

int axis_of(int64_t axis, int rank, const char* what) {
  TIDE_CHECK(axis >= -rank && axis < std::max(rank, 1), "{} {} is outside a tensor of rank {}",
             what, axis, rank);
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

void check_size(const Shape& s, const char* what) {
  const int64_t n = s.numel();  // throws on overflow
  TIDE_CHECK(n <= (int64_t{1} << 30),
             "its {} {} would hold {} values; Tide makes at most 2^30 (4 GiB) from a graph's "
             "sizes",
             what, s.str(), n);
}

Value reshaped(const Value& v, const Shape& s) {
  if (v.is_int()) return int_value(v.ints.clone().reshape(s));
  return float_value(reshape(v.var, s));
}

Value constant_value(const Tensor& t) {
  if (t.dtype() == DType::i64) return int_value(t);
  return float_value(Variable(t));
}

}  // namespace tide
