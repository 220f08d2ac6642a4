// The ONNX ops Tide runs: one row each, with the attributes it reads and how a node becomes
// Tide's autograd ops. Floating-point values are differentiated; integer values (shapes,
// axes, indices) are computed on the host as the graph runs, so a graph exported with a
// dynamic batch size reshapes for each batch.
#include <cmath>
#include <numeric>

#include <fmt/ranges.h>

#include "tide/autograd/ops.hpp"
#include "tide/nn/recurrent.hpp"
#include "tide/onnx/graph.hpp"

namespace tide {
namespace {

// ---------------------------------------------------------------- integer values on the host

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

// Strides of a row-major shape.
std::vector<int64_t> strides_of(const Shape& s) {
  std::vector<int64_t> st(s.ndim(), 1);
  for (int i = s.ndim() - 2; i >= 0; --i) st[i] = st[i + 1] * s[i + 1];
  return st;
}

// a OP b with broadcasting, on integers.
template <typename F>
Tensor int_binary(const Tensor& a, const Tensor& b, F f) {
  const Shape out = broadcast_shapes(a.shape(), b.shape());
  const int r = out.ndim();
  auto aligned = [&](const Shape& s) {
    std::vector<int64_t> dims(r, 1);
    for (int i = 0; i < s.ndim(); ++i) dims[r - s.ndim() + i] = s[i];
    return Shape(dims);
  };
  const Shape as = aligned(a.shape()), bs = aligned(b.shape());
  const std::vector<int64_t> ast = strides_of(as), bst = strides_of(bs), ost = strides_of(out);
  const int64_t *pa = a.data<int64_t>(), *pb = b.data<int64_t>();
  std::vector<int64_t> values(out.numel());
  for (int64_t i = 0; i < out.numel(); ++i) {
    int64_t ia = 0, ib = 0;
    for (int d = 0; d < r; ++d) {
      const int64_t k = i / ost[d] % out[d];
      if (as[d] != 1) ia += k * ast[d];
      if (bs[d] != 1) ib += k * bst[d];
    }
    values[i] = f(pa[ia], pb[ib]);
  }
  return int_tensor(out, values);
}

// A floating-point tensor of integral values (indices fed as floats) as integers.
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

int axis_of(int64_t axis, int rank, const char* what = "axis") {
  TIDE_CHECK(axis >= -rank && axis < std::max(rank, 1), "{} {} is outside a tensor of rank {}",
             what, axis, rank);
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

// A tensor a node makes from sizes the graph gives (ConstantOfShape, Expand, Pad) holds at
// most 2^30 values (4 GiB of floats): checked before it is allocated.
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

// ---------------------------------------------------------------- rows

using Unary = Variable (*)(const Variable&);

OpKind unary(std::string_view type, Unary f, int64_t since = 6) {
  return {.type = type,
          .since = since,
          .attributes = {},
          .buffer_inputs = {},
          .setting_inputs = {},
          .outputs = 1,
          .build = [f](const NodeContext& c) -> NodeFn {
            c.inputs_between(1, 1);
            return [f](const std::vector<Value>& in, RunState&) {
              return std::vector<Value>{float_value(f(floats(in[0], 0)))};
            };
          }};
}

Variable reciprocal(const Variable& x) {
  return div(Variable(Tensor::scalar(1.0, x.dtype())), x);
}
Variable negate(const Variable& x) {
  return -x;
}

template <typename FloatOp, typename IntOp>
OpKind binary(std::string_view type, FloatOp float_op, IntOp int_op) {
  return {.type = type,
          .since = 7,
          .attributes = {},
          .buffer_inputs = {},
          .setting_inputs = {},
          .outputs = 1,
          .build = [float_op, int_op](const NodeContext& c) -> NodeFn {
            c.inputs_between(2, 2);
            return [float_op, int_op](const std::vector<Value>& in, RunState&) {
              if (in[0].is_int() && in[1].is_int())
                return std::vector<Value>{int_value(int_binary(in[0].ints, in[1].ints, int_op))};
              TIDE_CHECK(!in[0].is_int() && !in[1].is_int(),
                         "its inputs mix integers and floating point");
              return std::vector<Value>{float_value(float_op(in[0].var, in[1].var))};
            };
          }};
}

NodeFn build_sum(const NodeContext& c) {
  TIDE_CHECK(c.inputs() >= 1, "{}: Sum needs an input", c.where());
  return [](const std::vector<Value>& in, RunState&) {
    Variable out = floats(in[0], 0);
    for (size_t i = 1; i < in.size(); ++i) out = out + floats(in[i], static_cast<int>(i));
    return std::vector<Value>{float_value(out)};
  };
}

NodeFn build_pow(const NodeContext& c) {
  c.inputs_between(2, 2);
  const std::optional<Tensor> e = c.constant(1);
  if (!e || e->numel() != 1)
    c.fail("Tide runs Pow with a constant scalar exponent (2, 3, 0.5, 1 or -1)");
  const double p = e->to_vector()[0];
  if (p != 2 && p != 3 && p != 0.5 && p != 1 && p != -1)
    c.fail("exponent {} is not one Tide runs (2, 3, 0.5, 1 or -1)", p);
  return [p](const std::vector<Value>& in, RunState&) {
    const Variable& x = floats(in[0], 0);
    Variable y = p == 2     ? square(x)
                 : p == 3   ? square(x) * x
                 : p == 0.5 ? sqrt(x)
                 : p == 1   ? x
                            : reciprocal(x);
    return std::vector<Value>{float_value(y)};
  };
}

// ---- constants, shapes and casts

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
      Tensor t = x.is_int() ? x.ints : integral(floats(x, 0).value().to(DType::f64), "values");
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

// ---- shape ops

// Unsqueeze's and Squeeze's axes: an attribute before opset 13, an input from it.
std::function<std::vector<int64_t>(const std::vector<Value>&)> axes_of(const NodeContext& c,
                                                                       bool required) {
  if (c.opset() < 13) {
    if (!c.has_attribute("axes")) {
      if (required) c.fail("it needs the attribute axes");
      return [](const std::vector<Value>&) { return std::vector<int64_t>{}; };
    }
    const std::vector<int64_t> axes = c.integers("axes");
    return [axes](const std::vector<Value>&) { return axes; };
  }
  if (!c.has_input(1) && required) c.fail("it needs its input axes");
  return [](const std::vector<Value>& in) {
    if (in.size() < 2 || (!in[1].is_int() && !in[1].var.defined())) return std::vector<int64_t>{};
    return int_list(ints(in[1], 1, "axes"));
  };
}

NodeFn build_unsqueeze(const NodeContext& c) {
  c.inputs_between(1, 2);
  auto axes_fn = axes_of(c, true);
  return [axes_fn](const std::vector<Value>& in, RunState&) {
    const std::vector<int64_t> axes = axes_fn(in);
    const Shape& s = in[0].shape();
    const int r = s.ndim() + static_cast<int>(axes.size());
    std::vector<bool> inserted(r, false);
    for (const int64_t a : axes) {
      const int k = axis_of(a, r);
      TIDE_CHECK(!inserted[k], "axis {} is given twice", a);
      inserted[k] = true;
    }
    std::vector<int64_t> dims;
    int next = 0;
    for (int i = 0; i < r; ++i) dims.push_back(inserted[i] ? 1 : s[next++]);
    return std::vector<Value>{reshaped(in[0], Shape(dims))};
  };
}

NodeFn build_squeeze(const NodeContext& c) {
  c.inputs_between(1, 2);
  auto axes_fn = axes_of(c, false);
  return [axes_fn](const std::vector<Value>& in, RunState&) {
    const std::vector<int64_t> axes = axes_fn(in);
    const Shape& s = in[0].shape();
    std::vector<bool> drop(s.ndim(), axes.empty());
    if (axes.empty())
      for (int i = 0; i < s.ndim(); ++i) drop[i] = s[i] == 1;
    for (const int64_t a : axes) {
      const int k = axis_of(a, s.ndim());
      TIDE_CHECK(s[k] == 1, "axis {} has size {}, not 1", a, s[k]);
      drop[k] = true;
    }
    std::vector<int64_t> dims;
    for (int i = 0; i < s.ndim(); ++i)
      if (!drop[i]) dims.push_back(s[i]);
    return std::vector<Value>{reshaped(in[0], Shape(dims))};
  };
}

NodeFn build_reshape(const NodeContext& c) {
  c.inputs_between(2, 2);
  if (c.integer("allowzero", 0) != 0)
    c.fail("attribute allowzero = 1 is not supported (a 0 in the shape copies the input's size)");
  return [](const std::vector<Value>& in, RunState&) {
    std::vector<int64_t> dims = int_list(ints(in[1], 1, "shape"));
    const Shape& s = in[0].shape();
    int inferred = -1;
    int64_t known = 1;
    for (size_t i = 0; i < dims.size(); ++i) {
      if (dims[i] == 0) {
        TIDE_CHECK(static_cast<int>(i) < s.ndim(), "shape entry {} is 0 beyond the input's rank",
                   i);
        dims[i] = s[static_cast<int>(i)];
      }
      if (dims[i] == -1) {
        TIDE_CHECK(inferred < 0, "the shape [{}] has two -1 entries", fmt::join(dims, ", "));
        inferred = static_cast<int>(i);
      } else {
        TIDE_CHECK(dims[i] >= 0, "the shape [{}] has a negative size", fmt::join(dims, ", "));
        known *= dims[i];
      }
    }
    if (inferred >= 0) {
      TIDE_CHECK(known > 0 && s.numel() % known == 0, "cannot reshape {} values into [{}]",
                 s.numel(), fmt::join(dims, ", "));
      dims[inferred] = s.numel() / known;
    }
    TIDE_CHECK(Shape(dims).numel() == s.numel(), "cannot reshape {} into [{}]", s.str(),
               fmt::join(dims, ", "));
    return std::vector<Value>{reshaped(in[0], Shape(dims))};
  };
}

NodeFn build_flatten(const NodeContext& c) {
  c.inputs_between(1, 1);
  const int64_t axis = c.integer("axis", 1);
  return [axis](const std::vector<Value>& in, RunState&) {
    const Shape& s = in[0].shape();
    // axis is in [-r, r]: a negative one counts from the rank, not from r + 1.
    const int a = axis == s.ndim() ? s.ndim() : axis_of(axis, s.ndim());
    int64_t rows = 1;
    for (int i = 0; i < a; ++i) rows *= s[i];
    return std::vector<Value>{
        reshaped(in[0], Shape({rows, s.numel() / std::max<int64_t>(rows, 1)}))};
  };
}

NodeFn build_transpose(const NodeContext& c) {
  c.inputs_between(1, 1);
  const std::optional<std::vector<int64_t>> perm =
      c.has_attribute("perm") ? std::optional(c.integers("perm")) : std::nullopt;
  return [perm](const std::vector<Value>& in, RunState&) {
    const int r = in[0].shape().ndim();
    std::vector<int> dims(r);
    for (int i = 0; i < r; ++i) dims[i] = perm ? axis_of((*perm)[i], r, "perm entry") : r - 1 - i;
    TIDE_CHECK(!perm || static_cast<int>(perm->size()) == r,
               "perm [{}] does not have the input's rank {}", fmt::join(*perm, ", "), r);
    if (in[0].is_int()) {
      TIDE_CHECK(r <= 1, "Tide transposes integer tensors of rank 0 and 1 only, got rank {}", r);
      return std::vector<Value>{in[0]};
    }
    return std::vector<Value>{float_value(permute(in[0].var, dims))};
  };
}

NodeFn build_concat(const NodeContext& c) {
  const int64_t axis = c.integer("axis");
  return [axis](const std::vector<Value>& in, RunState&) {
    TIDE_CHECK(!in.empty(), "it has no inputs");
    if (in[0].is_int()) {
      std::vector<int64_t> all;
      for (size_t i = 0; i < in.size(); ++i) {
        const Tensor t = ints(in[i], static_cast<int>(i), "values");
        TIDE_CHECK(t.ndim() == 1, "Tide concatenates integer tensors of rank 1 only, got {}",
                   t.shape().str());
        const std::vector<int64_t> v = int_list(t);
        all.insert(all.end(), v.begin(), v.end());
      }
      return std::vector<Value>{int_value(int_vector(all))};
    }
    std::vector<Variable> xs;
    for (size_t i = 0; i < in.size(); ++i) xs.push_back(floats(in[i], static_cast<int>(i)));
    return std::vector<Value>{float_value(concat(xs, axis_of(axis, xs[0].shape().ndim())))};
  };
}

NodeFn build_split(const NodeContext& c) {
  c.inputs_between(1, 2);
  const int64_t axis = c.integer("axis", 0);
  const int outputs = c.outputs();
  std::optional<std::vector<int64_t>> sizes;
  if (c.opset() < 13 && c.has_attribute("split")) sizes = c.integers("split");
  return [=](const std::vector<Value>& in, RunState&) {
    const Variable& x = floats(in[0], 0);
    const int a = axis_of(axis, x.shape().ndim());
    std::vector<int64_t> parts;
    if (sizes) {
      parts = *sizes;
    } else if (in.size() > 1 && (in[1].is_int() || in[1].var.defined())) {
      parts = int_list(ints(in[1], 1, "split"));
    } else {
      const int64_t n = x.shape()[a];
      TIDE_CHECK(n % outputs == 0, "{} does not split into {} equal parts", n, outputs);
      parts.assign(outputs, n / outputs);
    }
    TIDE_CHECK(static_cast<int>(parts.size()) == outputs, "it splits into {} parts for {} outputs",
               parts.size(), outputs);
    std::vector<Value> out;
    for (Variable& v : split(x, parts, a)) out.push_back(float_value(std::move(v)));
    return out;
  };
}

NodeFn build_slice(const NodeContext& c) {
  std::optional<std::array<std::vector<int64_t>, 3>> attrs;  // starts, ends, axes before opset 10
  if (c.opset() < 10) {
    c.inputs_between(1, 1);
    attrs = std::array<std::vector<int64_t>, 3>{
        c.integers("starts"), c.integers("ends"),
        c.has_attribute("axes") ? c.integers("axes") : std::vector<int64_t>{}};
  } else {
    c.inputs_between(3, 5);
  }
  return [attrs](const std::vector<Value>& in, RunState&) {
    auto list = [&](size_t i, const char* what) {
      if (in.size() <= i || (!in[i].is_int() && !in[i].var.defined()))
        return std::vector<int64_t>{};
      return int_list(ints(in[i], static_cast<int>(i), what));
    };
    const std::vector<int64_t> starts = attrs ? (*attrs)[0] : list(1, "starts");
    const std::vector<int64_t> ends = attrs ? (*attrs)[1] : list(2, "ends");
    std::vector<int64_t> axes = attrs ? (*attrs)[2] : list(3, "axes");
    const std::vector<int64_t> steps = attrs ? std::vector<int64_t>{} : list(4, "steps");
    TIDE_CHECK(starts.size() == ends.size(), "starts and ends differ in length");
    if (axes.empty()) {
      axes.resize(starts.size());
      std::iota(axes.begin(), axes.end(), 0);
    }
    TIDE_CHECK(axes.size() == starts.size(), "axes and starts differ in length");
    for (const int64_t s : steps) TIDE_CHECK(s == 1, "Tide slices with step 1 only, got {}", s);
    Value v = in[0];
    for (size_t k = 0; k < axes.size(); ++k) {
      const Shape& s = v.shape();
      const int a = axis_of(axes[k], s.ndim());
      const int64_t n = s[a];
      auto clamp = [n](int64_t i) { return std::clamp(i < 0 ? i + n : i, int64_t{0}, n); };
      const int64_t b = clamp(starts[k]), e = std::max(b, clamp(ends[k]));
      if (v.is_int()) {
        TIDE_CHECK(s.ndim() == 1, "Tide slices integer tensors of rank 1 only, got {}", s.str());
        const std::vector<int64_t> all = int_list(v.ints);
        v = int_value(int_vector(std::vector<int64_t>(all.begin() + b, all.begin() + e)));
      } else {
        v = float_value(slice(v.var, a, b, e));
      }
    }
    return std::vector<Value>{v};
  };
}

NodeFn build_gather(const NodeContext& c) {
  c.inputs_between(2, 2);
  const int64_t axis = c.integer("axis", 0);
  return [axis](const std::vector<Value>& in, RunState&) {
    Tensor idx = ints(in[1], 1, "indices");
    const Shape& s = in[0].shape();
    const int a = axis_of(axis, s.ndim());
    const int64_t n = s[a];
    std::vector<int64_t> positions = int_list(idx);
    for (int64_t& p : positions) {
      TIDE_CHECK(p >= -n && p < n, "index {} is outside [{}, {}) of axis {}", p, -n, n, a);
      if (p < 0) p += n;
    }
    idx = int_tensor(idx.shape(), positions);
    if (in[0].is_int()) {
      TIDE_CHECK(s.ndim() == 1, "Tide gathers from integer tensors of rank 1 only, got {}",
                 s.str());
      const std::vector<int64_t> all = int_list(in[0].ints);
      std::vector<int64_t> out;
      for (const int64_t p : positions) out.push_back(all[p]);
      return std::vector<Value>{int_value(int_tensor(idx.shape(), out))};
    }
    const Variable& x = in[0].var;
    if (a == 0 && s.ndim() == 2)  // an embedding: rows of a table
      return std::vector<Value>{float_value(embedding(x, idx))};
    TIDE_CHECK(idx.ndim() <= 1, "Tide gathers along axis {} with indices of rank 0 or 1, got {}", a,
               idx.shape().str());
    std::vector<Variable> parts;
    for (const int64_t p : positions) parts.push_back(slice(x, a, p, p + 1));
    Variable out = parts.size() == 1 ? parts[0] : concat(parts, a);
    if (idx.ndim() == 0) {
      std::vector<int64_t> dims = s.dims();
      dims.erase(dims.begin() + a);
      out = reshape(out, Shape(dims));
    }
    return std::vector<Value>{float_value(out)};
  };
}

// ---- linear algebra

// (..., M, K) x (K, N) or batches of equal leading dimensions.
Variable onnx_matmul(const Variable& a, const Variable& b) {
  const Shape &sa = a.shape(), &sb = b.shape();
  TIDE_CHECK(sa.ndim() >= 1 && sb.ndim() >= 1, "MatMul of a scalar");
  if (sa.ndim() == 1) {
    const Variable r = onnx_matmul(reshape(a, Shape({1, sa[0]})), b);
    std::vector<int64_t> dims = r.shape().dims();
    dims.erase(dims.end() - 2);
    return reshape(r, Shape(dims));
  }
  if (sb.ndim() == 1) {
    const Variable r = onnx_matmul(a, reshape(b, Shape({sb[0], 1})));
    std::vector<int64_t> dims = r.shape().dims();
    dims.pop_back();
    return reshape(r, Shape(dims));
  }
  const int64_t k = sa[-1];
  TIDE_CHECK(sb[-2] == k, "MatMul of {} and {}: the inner sizes differ", sa.str(), sb.str());
  if (sb.ndim() == 2) {
    std::vector<int64_t> dims = sa.dims();
    dims.back() = sb[1];
    return reshape(matmul(reshape(a, Shape({-1, k})), b), Shape(dims));
  }
  TIDE_CHECK(sa.ndim() == sb.ndim(),
             "Tide's MatMul broadcasts a matrix over a batch, not {} against {}", sa.str(),
             sb.str());
  int64_t batch = 1;
  for (int i = 0; i < sa.ndim() - 2; ++i) {
    TIDE_CHECK(sa[i] == sb[i], "MatMul of {} and {}: the batch dimensions differ", sa.str(),
               sb.str());
    batch *= sa[i];
  }
  std::vector<int64_t> dims = sa.dims();
  dims.back() = sb[-1];
  return reshape(bmm(reshape(a, Shape({batch, sa[-2], k})), reshape(b, Shape({batch, k, sb[-1]}))),
                 Shape(dims));
}

NodeFn build_matmul(const NodeContext& c) {
  c.inputs_between(2, 2);
  return [](const std::vector<Value>& in, RunState&) {
    return std::vector<Value>{float_value(onnx_matmul(floats(in[0], 0), floats(in[1], 1)))};
  };
}

NodeFn build_gemm(const NodeContext& c) {
  c.inputs_between(2, 3);
  const double alpha = c.number("alpha", 1.0), beta = c.number("beta", 1.0);
  const bool ta = c.integer("transA", 0) != 0, tb = c.integer("transB", 0) != 0;
  return [=](const std::vector<Value>& in, RunState&) {
    Variable a = floats(in[0], 0), b = floats(in[1], 1);
    TIDE_CHECK(a.shape().ndim() == 2 && b.shape().ndim() == 2,
               "Gemm of {} and {}: both must be matrices", a.shape().str(), b.shape().str());
    if (ta) a = transpose(a, 0, 1);
    const Variable weight = tb ? b : transpose(b, 0, 1);  // (N, K), as linear takes it
    const bool has_c = in.size() > 2 && in[2].var.defined();
    const Variable& cv = has_c ? floats(in[2], 2) : Variable();
    // A C of one element broadcasts over the row, as any other C does.
    const bool bias_row =
        has_c && beta == 1.0 && cv.shape().ndim() == 1 && cv.shape()[0] == weight.shape()[0];
    Variable y = linear(a, weight, bias_row ? cv : Variable());
    if (alpha != 1.0) y = y * alpha;
    if (has_c && !bias_row) y = y + (beta == 1.0 ? cv : cv * beta);
    return std::vector<Value>{float_value(y)};
  };
}

// ---- convolution and pooling

// A 1-D or 2-D window's attributes as 2-D ones (a 1-D window is 1 high).
struct Window {
  int dims = 2;
  std::array<int64_t, 2> kernel{1, 1}, stride{1, 1}, dilation{1, 1};
  std::array<int64_t, 4> pads{0, 0, 0, 0};  // top, left, bottom, right
  std::string auto_pad = "NOTSET";
};

Window window_of(const NodeContext& c, bool kernel_required) {
  Window w;
  std::vector<int64_t> k;
  if (c.has_attribute("kernel_shape"))
    k = c.integers("kernel_shape");
  else if (kernel_required)
    c.fail("it needs the attribute kernel_shape");
  const size_t n = k.empty() ? 2 : k.size();
  if (n != 1 && n != 2)
    c.fail("Tide runs 1-D and 2-D windows, got kernel_shape [{}]", fmt::join(k, ", "));
  w.dims = static_cast<int>(n);
  auto pair = [&](std::string_view name) {
    std::array<int64_t, 2> v{1, 1};
    if (!c.has_attribute(name)) return v;
    const std::vector<int64_t> a = c.integers(name);
    if (a.size() != n) c.fail("attribute {} has {} entries for a {}-D window", name, a.size(), n);
    for (const int64_t x : a)
      if (x <= 0 || x > (int64_t{1} << 16))
        c.fail("attribute {} must be from 1 to 2^16, got [{}]", name, fmt::join(a, ", "));
    if (n == 1)
      v[1] = a[0];
    else
      v = {a[0], a[1]};
    return v;
  };
  if (!k.empty()) {
    for (const int64_t x : k)
      if (x <= 0 || x > (int64_t{1} << 16))
        c.fail("kernel_shape must be from 1 to 2^16, got [{}]", fmt::join(k, ", "));
    w.kernel = n == 1 ? std::array<int64_t, 2>{1, k[0]} : std::array<int64_t, 2>{k[0], k[1]};
  }
  w.stride = pair("strides");
  w.dilation = pair("dilations");
  if (c.has_attribute("pads")) {
    const std::vector<int64_t> p = c.integers("pads");
    if (p.size() != 2 * n) c.fail("attribute pads has {} entries for a {}-D window", p.size(), n);
    for (const int64_t x : p)
      if (x < 0 || x > (int64_t{1} << 16))
        c.fail("attribute pads must be from 0 to 2^16, got [{}]", fmt::join(p, ", "));
    w.pads = n == 1 ? std::array<int64_t, 4>{0, p[0], 0, p[1]}
                    : std::array<int64_t, 4>{p[0], p[1], p[2], p[3]};
  }
  w.auto_pad = c.text("auto_pad", "NOTSET");
  if (w.auto_pad != "NOTSET" && w.auto_pad != "VALID" && w.auto_pad != "SAME_UPPER" &&
      w.auto_pad != "SAME_LOWER")
    c.fail("attribute auto_pad = '{}' is not ONNX's", w.auto_pad);
  if (w.auto_pad != "NOTSET" && c.has_attribute("pads"))
    c.fail("attributes auto_pad = '{}' and pads are both given", w.auto_pad);
  return w;
}

// The padding of input (H, W) under auto_pad, or the node's.
std::array<int64_t, 4> pads_for(const Window& w, int64_t h, int64_t wd) {
  if (w.auto_pad == "NOTSET") return w.pads;
  if (w.auto_pad == "VALID") return {0, 0, 0, 0};
  std::array<int64_t, 4> p{};
  const int64_t size[2] = {h, wd};
  for (int i = 0; i < 2; ++i) {
    const int64_t out = (size[i] + w.stride[i] - 1) / w.stride[i];
    const int64_t total = std::max<int64_t>(
        0, (out - 1) * w.stride[i] + (w.kernel[i] - 1) * w.dilation[i] + 1 - size[i]);
    const int64_t small = total / 2, large = total - small;
    p[i] = w.auto_pad == "SAME_UPPER" ? small : large;
    p[i + 2] = w.auto_pad == "SAME_UPPER" ? large : small;
  }
  return p;
}

// (N, C, L) as (N, C, 1, L) for a 1-D window.
Variable as_2d(const Variable& x, int dims, const char* what) {
  const Shape& s = x.shape();
  TIDE_CHECK(s.ndim() == dims + 2, "the {} must be ({}), got {}", what,
             dims == 1 ? "N, C, L" : "N, C, H, W", s.str());
  return dims == 1 ? reshape(x, Shape({s[0], s[1], 1, s[2]})) : x;
}

Variable from_2d(const Variable& y, int dims) {
  if (dims == 2) return y;
  const Shape& s = y.shape();
  return reshape(y, Shape({s[0], s[1], s[3]}));
}

NodeFn build_conv(const NodeContext& c) {
  c.inputs_between(2, 3);
  const Window w = window_of(c, false);
  const int64_t group = c.integer("group", 1);
  if (group <= 0) c.fail("attribute group must be positive, got {}", group);
  return [w, group](const std::vector<Value>& in, RunState&) {
    const Variable& weight0 = floats(in[1], 1);
    const int dims = weight0.shape().ndim() - 2;
    TIDE_CHECK(dims == 1 || dims == 2, "Tide runs 1-D and 2-D convolutions; the weight is {}",
               weight0.shape().str());
    Variable x = as_2d(floats(in[0], 0), dims, "input");
    const Variable weight = as_2d(weight0, dims, "weight");
    Window win = w;
    win.kernel = {weight.shape()[2], weight.shape()[3]};
    std::array<int64_t, 4> p = pads_for(win, x.shape()[2], x.shape()[3]);
    check_size(Shape({x.shape()[0], std::max(x.shape()[1], weight.shape()[0]),
                      x.shape()[2] + p[0] + p[2], x.shape()[3] + p[1] + p[3]}),
               "padded input");
    Conv2dOptions o{
        .stride = win.stride, .padding = {0, 0}, .dilation = win.dilation, .groups = group};
    if (p[0] == p[2] && p[1] == p[3]) {
      o.padding = {p[0], p[1]};
    } else {
      x = pad2d(x, {p[1], p[3], p[0], p[2]}, PaddingMode::zeros, "Conv");
    }
    const Variable bias = in.size() > 2 && in[2].var.defined() ? floats(in[2], 2) : Variable();
    return std::vector<Value>{float_value(from_2d(conv2d(x, weight, bias, o), dims))};
  };
}

NodeFn build_pool(const NodeContext& c, bool max) {
  c.inputs_between(1, 1);
  const Window w = window_of(c, true);
  const bool ceil = c.integer("ceil_mode", 0) != 0;
  const bool include_pad = c.integer("count_include_pad", 0) != 0;
  if (max) c.only("storage_order", c.integer("storage_order", 0), 0, "Tide's pooling is row-major");
  if (!max && w.dilation != std::array<int64_t, 2>{1, 1})
    c.fail("attribute dilations: Tide's average pooling has no dilation");
  return [=](const std::vector<Value>& in, RunState&) {
    const Variable x = as_2d(floats(in[0], 0), w.dims, "input");
    const std::array<int64_t, 4> p = pads_for(w, x.shape()[2], x.shape()[3]);
    TIDE_CHECK(p[0] == p[2] && p[1] == p[3],
               "Tide pads a pooling window alike on both sides; pads are [{}]", fmt::join(p, ", "));
    const Pool2dOptions o{.kernel = w.kernel,
                          .stride = w.stride,
                          .padding = {p[0], p[1]},
                          .dilation = w.dilation,
                          .ceil_mode = ceil,
                          .count_include_pad = include_pad};
    const Variable y = max ? max_pool2d(x, o) : avg_pool2d(x, o);
    return std::vector<Value>{float_value(from_2d(y, w.dims))};
  };
}

NodeFn build_global_average_pool(const NodeContext& c) {
  c.inputs_between(1, 1);
  return [](const std::vector<Value>& in, RunState&) {
    const Variable& x = floats(in[0], 0);
    const int r = x.shape().ndim();
    TIDE_CHECK(r == 3 || r == 4, "the input must be (N, C, L) or (N, C, H, W), got {}",
               x.shape().str());
    const Variable y = adaptive_avg_pool2d(as_2d(x, r - 2, "input"), 1, 1);
    return std::vector<Value>{float_value(from_2d(y, r - 2))};
  };
}

// ---- normalisation, softmax, dropout, reductions

NodeFn build_batch_norm(const NodeContext& c) {
  c.inputs_between(5, 5);
  const double eps = c.number("epsilon", 1e-5);
  const double momentum = c.number("momentum", 0.9);
  if (!(momentum >= 0 && momentum <= 1))
    c.fail("attribute momentum must be in [0, 1], got {}", momentum);
  const Tensor mean = c.buffer(3, "input_mean"), var = c.buffer(4, "input_var");
  // ONNX's running mean is momentum * running + (1 - momentum) * batch: PyTorch's momentum is
  // the other share.
  return [=](const std::vector<Value>& in, RunState& s) {
    return std::vector<Value>{
        float_value(batch_norm(floats(in[0], 0), floats(in[1], 1), floats(in[2], 2), mean, var,
                               s.training, 1.0 - momentum, eps))};
  };
}

NodeFn build_layer_norm(const NodeContext& c) {
  c.inputs_between(2, 3);
  const int64_t axis = c.integer("axis", -1);
  const double eps = c.number("epsilon", 1e-5);
  c.integer("stash_type", 1);
  return [=](const std::vector<Value>& in, RunState&) {
    const Variable& x = floats(in[0], 0);
    const int r = x.shape().ndim();
    const int a = axis_of(axis, r);
    const Variable bias = in.size() > 2 && in[2].var.defined() ? floats(in[2], 2) : Variable();
    return std::vector<Value>{float_value(layer_norm(x, r - a, floats(in[1], 1), bias, eps))};
  };
}

NodeFn build_softmax(const NodeContext& c, bool log) {
  c.inputs_between(1, 1);
  const bool coerced = c.opset() < 13;  // before opset 13: over all dimensions from axis on
  const int64_t axis = c.integer("axis", coerced ? 1 : -1);
  return [=](const std::vector<Value>& in, RunState&) {
    const Variable& x = floats(in[0], 0);
    const Shape& s = x.shape();
    const int a = axis_of(axis, s.ndim());
    if (!coerced || a == s.ndim() - 1) {
      return std::vector<Value>{float_value(log ? log_softmax(x, a) : softmax(x, a))};
    }
    int64_t rows = 1;
    for (int i = 0; i < a; ++i) rows *= s[i];
    const Variable flat = reshape(x, Shape({rows, s.numel() / std::max<int64_t>(rows, 1)}));
    return std::vector<Value>{
        float_value(reshape(log ? log_softmax(flat, 1) : softmax(flat, 1), s))};
  };
}

NodeFn build_dropout(const NodeContext& c) {
  c.inputs_between(1, 3);
  double ratio = 0.5;
  if (c.opset() < 12) {
    ratio = c.number("ratio", 0.5);
  } else if (c.has_input(1)) {
    const std::optional<Tensor> r = c.constant(1);
    if (!r || r->numel() != 1) c.fail("Tide needs the ratio of a Dropout as a constant");
    ratio = r->item();
  }
  if (!(ratio >= 0 && ratio < 1)) c.fail("ratio must be in [0, 1), got {}", ratio);
  c.integer("seed", 0);
  DropoutStreams* streams = c.new_dropout();
  // Active while Tide trains the network, whatever training_mode the exporter wrote: the
  // graph is being trained.
  return [ratio, streams](const std::vector<Value>& in, RunState& s) {
    const Variable& x = floats(in[0], 0);
    if (!s.training || ratio == 0) return std::vector<Value>{in[0]};
    RngStream rng = streams->next();
    return std::vector<Value>{float_value(dropout(x, ratio, rng))};
  };
}

NodeFn build_reduce(const NodeContext& c, bool is_mean) {
  const bool axes_input = !is_mean && c.opset() >= 13;  // ReduceSum took them as an input
  c.inputs_between(1, axes_input ? 2 : 1);
  const bool keep = c.integer("keepdims", 1) != 0;
  const bool noop_empty = c.integer("noop_with_empty_axes", 0) != 0;
  std::vector<int64_t> attr_axes;
  if (!axes_input && c.has_attribute("axes")) attr_axes = c.integers("axes");
  return [=](const std::vector<Value>& in, RunState&) {
    Variable x = floats(in[0], 0);
    const int r = x.shape().ndim();
    std::vector<int64_t> axes = attr_axes;
    if (axes_input && in.size() > 1 && (in[1].is_int() || in[1].var.defined()))
      axes = int_list(ints(in[1], 1, "axes"));
    if (axes.empty()) {
      if (noop_empty) return std::vector<Value>{in[0]};
      axes.resize(r);
      std::iota(axes.begin(), axes.end(), 0);
    }
    std::vector<int> dims;
    for (const int64_t a : axes) dims.push_back(axis_of(a, r));
    std::sort(dims.rbegin(), dims.rend());
    for (const int d : dims) x = is_mean ? mean(x, d, keep) : sum(x, d, keep);
    return std::vector<Value>{float_value(x)};
  };
}

NodeFn build_pad(const NodeContext& c) {
  c.inputs_between(2, 3);
  const std::string mode = c.text("mode", "constant");
  static const std::map<std::string, PaddingMode> modes = {{"constant", PaddingMode::zeros},
                                                           {"reflect", PaddingMode::reflect},
                                                           {"edge", PaddingMode::replicate}};
  const auto m = modes.find(mode);
  if (m == modes.end()) c.fail("attribute mode = '{}' is not constant, reflect or edge", mode);
  const PaddingMode pm = m->second;
  return [pm](const std::vector<Value>& in, RunState&) {
    const Variable& x = floats(in[0], 0);
    const std::vector<int64_t> p = int_list(ints(in[1], 1, "pads"));
    const int r = x.shape().ndim();
    TIDE_CHECK(static_cast<int>(p.size()) == 2 * r, "pads has {} entries for rank {}", p.size(), r);
    if (in.size() > 2 && (in[2].is_int() || in[2].var.defined())) {
      const double fill = in[2].is_int() ? in[2].ints.item() : in[2].var.value().item();
      TIDE_CHECK(fill == 0, "Tide pads with the constant 0 only, got {}", fill);
    }
    TIDE_CHECK(r == 4, "Tide pads (N, C, H, W) tensors, got {}", x.shape().str());
    for (const int64_t v : p)
      TIDE_CHECK(v >= 0 && v <= (int64_t{1} << 20), "pads must be from 0 to 2^20, got [{}]",
                 fmt::join(p, ", "));
    check_size(
        Shape({x.shape()[0], x.shape()[1], x.shape()[2] + p[2] + p[6], x.shape()[3] + p[3] + p[7]}),
        "output");
    TIDE_CHECK(p[0] == 0 && p[1] == 0 && p[4] == 0 && p[5] == 0,
               "Tide pads the last two dimensions only; pads are [{}]", fmt::join(p, ", "));
    return std::vector<Value>{float_value(pad2d(x, {p[3], p[7], p[2], p[6]}, pm, "Pad"))};
  };
}

// ---- recurrent layers

// ONNX orders an LSTM's gates i, o, f, c and a GRU's z, r, h; PyTorch's (and Tide's) are
// i, f, g, o and r, z, n. The ONNX blocks in Tide's order:
const std::vector<int>& gate_order(RecurrentKind kind) {
  static const std::vector<int> lstm = {0, 2, 3, 1}, gru = {1, 0, 2}, rnn = {0};
  return kind == RecurrentKind::lstm ? lstm : kind == RecurrentKind::gru ? gru : rnn;
}

int gates(RecurrentKind kind) {
  return kind == RecurrentKind::lstm ? 4 : kind == RecurrentKind::gru ? 3 : 1;
}

Variable reorder_gates(const Variable& w, RecurrentKind kind, int64_t hidden) {
  if (kind == RecurrentKind::rnn_tanh || kind == RecurrentKind::rnn_relu) return w;
  const std::vector<Variable> blocks = split(w, std::vector<int64_t>(gates(kind), hidden), 0);
  std::vector<Variable> ordered;
  for (const int i : gate_order(kind)) ordered.push_back(blocks[i]);
  return concat(ordered, 0);
}

// Direction d's slice of a (D, ...) tensor, without the leading dimension.
Variable direction(const Variable& t, int d) {
  std::vector<int64_t> dims = t.shape().dims();
  dims.erase(dims.begin());
  return reshape(slice(t, 0, d, d + 1), Shape(dims));
}

// ONNX's GRU with linear_before_reset = 0: the candidate is tanh(W_n x + b_Wn + R_n (r * h) +
// b_Rn) where PyTorch's is tanh(W_n x + b_Wn + r * (R_n h + b_Rn)). Gates in PyTorch's order
// (r, z, n); x (N, T, I), h0 (N, H) -> (N, T + 1, H) as gru_sequence, from autograd ops one
// step at a time.
Variable gru_reset_first(const Variable& x, const Variable& h0, const Variable& w_ih,
                         const Variable& w_hh, const Variable& b_ih, const Variable& b_hh) {
  const int64_t n = x.shape()[0], t = x.shape()[1], hidden = h0.shape()[1];
  const Variable gx = linear(x, w_ih, b_ih);  // (N, T, 3H)
  auto rows = [](const Variable& v, int64_t from, int64_t to) {
    return v.defined() ? slice(v, 0, from, to) : Variable();
  };
  const Variable w_rz = rows(w_hh, 0, 2 * hidden), w_n = rows(w_hh, 2 * hidden, 3 * hidden);
  const Variable b_rz = rows(b_hh, 0, 2 * hidden), b_n = rows(b_hh, 2 * hidden, 3 * hidden);
  Variable h = h0;
  std::vector<Variable> steps;
  for (int64_t k = 0; k < t; ++k) {
    const Variable g = reshape(slice(gx, 1, k, k + 1), Shape({n, 3 * hidden}));
    const Variable rz = sigmoid(slice(g, 1, 0, 2 * hidden) + linear(h, w_rz, b_rz));
    const Variable r = slice(rz, 1, 0, hidden), z = slice(rz, 1, hidden, 2 * hidden);
    const Variable cand = tanh(slice(g, 1, 2 * hidden, 3 * hidden) + linear(r * h, w_n, b_n));
    h = cand + z * (h - cand);
    steps.push_back(reshape(h, Shape({n, 1, hidden})));
  }
  steps.push_back(reshape(h, Shape({n, 1, hidden})));
  return concat(steps, 1);
}

NodeFn build_recurrent(const NodeContext& c, RecurrentKind kind) {
  const bool lstm = kind == RecurrentKind::lstm;
  c.inputs_between(3, lstm ? 8 : 6);
  if (lstm && c.has_input(7)) c.fail("input P (peepholes): Tide's LSTM has no peepholes");
  const int64_t hidden = c.integer("hidden_size");
  if (hidden <= 0) c.fail("attribute hidden_size must be positive, got {}", hidden);
  const std::string dir = c.text("direction", "forward");
  if (dir != "forward" && dir != "reverse" && dir != "bidirectional")
    c.fail("attribute direction = '{}' is not forward, reverse or bidirectional", dir);
  const int directions = dir == "bidirectional" ? 2 : 1;
  if (c.has_attribute("clip")) c.fail("attribute clip: Tide's recurrent layers do not clip");
  if (c.has_attribute("activation_alpha") || c.has_attribute("activation_beta"))
    c.fail("attributes activation_alpha and activation_beta are not supported");
  if (lstm) c.only("input_forget", c.integer("input_forget", 0), 0, "Tide's LSTM is PyTorch's");
  const int64_t layout = c.integer("layout", 0);
  if (layout != 0 && layout != 1) c.fail("attribute layout must be 0 or 1, got {}", layout);
  // linear_before_reset = 1 is PyTorch's GRU, one oneDNN primitive; ONNX's default 0 resets
  // the state before its product, which runs step by step (gru_reset_first).
  const bool reset_first = kind == RecurrentKind::gru && c.integer("linear_before_reset", 0) == 0;
  std::vector<std::string> expected;
  for (int d = 0; d < directions; ++d) {
    if (lstm)
      expected.insert(expected.end(), {"Sigmoid", "Tanh", "Tanh"});
    else if (kind == RecurrentKind::gru)
      expected.insert(expected.end(), {"Sigmoid", "Tanh"});
    else
      expected.push_back("Tanh");
  }
  if (c.has_attribute("activations")) {
    const std::vector<std::string> given = c.texts("activations");
    std::vector<std::string> relu(directions, "Relu");
    if (kind == RecurrentKind::rnn_tanh && given == relu)
      kind = RecurrentKind::rnn_relu;
    else if (given != expected)
      c.fail("attribute activations = [{}]: Tide runs [{}]{}", fmt::join(given, ", "),
             fmt::join(expected, ", "), kind == RecurrentKind::rnn_tanh ? " or all Relu" : "");
  }
  const int g = gates(kind);
  return [=](const std::vector<Value>& in, RunState&) {
    auto given = [&](size_t i) { return in.size() > i && (in[i].var.defined() || in[i].is_int()); };
    const Variable& x = floats(in[0], 0);
    TIDE_CHECK(x.shape().ndim() == 3, "the input must be a sequence of rank 3, got {}",
               x.shape().str());
    const Variable xs = layout == 0 ? transpose(x, 0, 1) : x;  // (N, T, I)
    const int64_t n = xs.shape()[0], t = xs.shape()[1], input = xs.shape()[2];
    const Variable &w = floats(in[1], 1), &r = floats(in[2], 2);
    TIDE_CHECK(w.shape() == Shape({directions, g * hidden, input}),
               "W must be [{}, {}, {}], got {}", directions, g * hidden, input, w.shape().str());
    TIDE_CHECK(r.shape() == Shape({directions, g * hidden, hidden}),
               "R must be [{}, {}, {}], got {}", directions, g * hidden, hidden, r.shape().str());
    if (given(4)) {
      for (const int64_t len : int_list(ints(in[4], 4, "sequence_lens")))
        TIDE_CHECK(len == t, "sequence_lens holds {}; Tide runs whole sequences of {} steps", len,
                   t);
    }
    std::vector<Variable> ys, hs, cs;
    for (int d = 0; d < directions; ++d) {
      const bool reverse = dir == "reverse" || d == 1;
      const Variable w_ih = reorder_gates(direction(w, d), kind, hidden);
      const Variable w_hh = reorder_gates(direction(r, d), kind, hidden);
      Variable b_ih, b_hh;
      if (given(3)) {
        const Variable b = direction(floats(in[3], 3), d);
        TIDE_CHECK(b.shape() == Shape({2 * g * hidden}), "B must be [{}, {}], got {}", directions,
                   2 * g * hidden, floats(in[3], 3).shape().str());
        b_ih = reorder_gates(slice(b, 0, 0, g * hidden), kind, hidden);
        b_hh = reorder_gates(slice(b, 0, g * hidden, 2 * g * hidden), kind, hidden);
      }
      auto state = [&](size_t i) {
        if (!given(i)) return Variable(Tensor::zeros(Shape({n, hidden}), x.dtype()));
        const Variable& s = floats(in[i], static_cast<int>(i));
        const Variable v = layout == 0 ? direction(s, d) : direction(transpose(s, 0, 1), d);
        TIDE_CHECK(v.shape() == Shape({n, hidden}), "an initial state must be [{}, {}, {}], got {}",
                   directions, n, hidden, s.shape().str());
        return v;
      };
      const Variable xd = reverse ? flip(xs, 1) : xs;
      Variable out;
      switch (kind) {
        case RecurrentKind::lstm:
          out = lstm_sequence(xd, state(5), state(6), w_ih, w_hh, b_ih, b_hh);
          break;
        case RecurrentKind::gru:
          out = reset_first ? gru_reset_first(xd, state(5), w_ih, w_hh, b_ih, b_hh)
                            : gru_sequence(xd, state(5), w_ih, w_hh, b_ih, b_hh);
          break;
        default:
          out = rnn_sequence(xd, state(5), w_ih, w_hh, b_ih, b_hh, kind == RecurrentKind::rnn_relu);
      }
      Variable y = slice(out, 1, 0, t);
      if (reverse) y = flip(y, 1);
      ys.push_back(layout == 0 ? reshape(transpose(y, 0, 1), Shape({t, 1, n, hidden}))
                               : reshape(y, Shape({n, t, 1, hidden})));
      auto last = [&](int64_t k) {
        const Variable s = reshape(slice(out, 1, k, k + 1), Shape({n, hidden}));
        return layout == 0 ? reshape(s, Shape({1, n, hidden})) : reshape(s, Shape({n, 1, hidden}));
      };
      hs.push_back(last(t));
      if (lstm) cs.push_back(last(t + 1));
    }
    const int state_axis = layout == 0 ? 0 : 1;
    auto join = [](const std::vector<Variable>& v, int axis) {
      return v.size() == 1 ? v[0] : concat(v, axis);
    };
    std::vector<Value> outs{float_value(join(ys, layout == 0 ? 1 : 2)),
                            float_value(join(hs, state_axis))};
    if (lstm) outs.push_back(float_value(join(cs, state_axis)));
    return outs;
  };
}

NodeFn build_erf(const NodeContext& c) {
  c.fail(
      "Tide runs Erf only inside GELU, x * 0.5 * (1 + erf(x / sqrt(2))), the pattern "
      "torch.onnx.export writes for nn.GELU");
}

NodeFn pass_through(const NodeContext& c) {
  c.inputs_between(1, 1);
  return [](const std::vector<Value>& in, RunState&) { return std::vector<Value>{in[0]}; };
}

std::vector<OpKind> make_table() {
  using Build = std::function<NodeFn(const NodeContext&)>;
  auto row = [](std::string_view type, int64_t since, std::vector<std::string_view> attributes,
                Build build, std::vector<int> settings = {}, int outputs = 1) {
    return OpKind{.type = type,
                  .since = since,
                  .attributes = std::move(attributes),
                  .buffer_inputs = {},
                  .setting_inputs = std::move(settings),
                  .outputs = outputs,
                  .build = std::move(build)};
  };
  const std::vector<std::string_view> window = {"auto_pad", "kernel_shape", "pads", "strides",
                                                "dilations"};
  auto with = [](std::vector<std::string_view> a, std::vector<std::string_view> more) {
    a.insert(a.end(), more.begin(), more.end());
    return a;
  };
  const std::vector<std::string_view> recurrent = {
      "activation_alpha", "activation_beta", "activations", "clip",
      "direction",        "hidden_size",     "layout"};
  std::vector<OpKind> t = {
      unary("Relu", relu),
      unary("Sigmoid", sigmoid),
      unary("Tanh", tanh),
      unary("Exp", exp),
      unary("Log", log),
      unary("Sqrt", sqrt),
      unary("Neg", negate),
      unary("Reciprocal", reciprocal),
      binary(
          "Add", [](const Variable& a, const Variable& b) { return a + b; },
          [](int64_t a, int64_t b) { return a + b; }),
      binary(
          "Sub", [](const Variable& a, const Variable& b) { return a - b; },
          [](int64_t a, int64_t b) { return a - b; }),
      binary(
          "Mul", [](const Variable& a, const Variable& b) { return a * b; },
          [](int64_t a, int64_t b) { return a * b; }),
      binary(
          "Div", [](const Variable& a, const Variable& b) { return a / b; },
          [](int64_t a, int64_t b) {
            TIDE_CHECK(b != 0, "integer division by zero");
            return a / b;
          }),
      row("Sum", 8, {}, build_sum),
      row("Pow", 7, {}, build_pow, {1}),
      row("Erf", 9, {}, build_erf),
      row("Identity", 1, {}, pass_through),
      row("Constant", 1, {"value", "value_float", "value_floats", "value_int", "value_ints"},
          build_constant),
      row("Shape", 1, {"start", "end"}, build_shape),
      row("Cast", 6, {"to", "saturate"}, build_cast),
      row("ConstantOfShape", 9, {"value"}, build_constant_of_shape, {0}),
      row("Expand", 8, {}, build_expand, {1}),
      row("Unsqueeze", 1, {"axes"}, build_unsqueeze, {1}),
      row("Squeeze", 1, {"axes"}, build_squeeze, {1}),
      row("Reshape", 5, {"allowzero"}, build_reshape, {1}),
      row("Flatten", 1, {"axis"}, build_flatten),
      row("Transpose", 1, {"perm"}, build_transpose),
      row("Concat", 4, {"axis"}, build_concat),
      row("Split", 2, {"axis", "split"}, build_split, {1}, -1),
      row("Slice", 1, {"starts", "ends", "axes"}, build_slice, {1, 2, 3, 4}),
      row("Gather", 1, {"axis"}, build_gather),
      row("MatMul", 1, {}, build_matmul),
      row("Gemm", 7, {"alpha", "beta", "transA", "transB"}, build_gemm),
      row("Conv", 1, with(window, {"group"}), build_conv),
      row("MaxPool", 8, with(window, {"ceil_mode", "storage_order"}),
          [](const NodeContext& c) { return build_pool(c, true); }),
      row("AveragePool", 7, with(window, {"ceil_mode", "count_include_pad"}),
          [](const NodeContext& c) { return build_pool(c, false); }),
      row("GlobalAveragePool", 1, {}, build_global_average_pool),
      OpKind{.type = "BatchNormalization",
             .since = 9,
             .attributes = {"epsilon", "momentum", "training_mode", "spatial"},
             .buffer_inputs = {3, 4},
             .setting_inputs = {},
             .outputs = 1,
             .build = build_batch_norm},
      row("LayerNormalization", 17, {"axis", "epsilon", "stash_type"}, build_layer_norm),
      row("Softmax", 1, {"axis"}, [](const NodeContext& c) { return build_softmax(c, false); }),
      row("LogSoftmax", 1, {"axis"}, [](const NodeContext& c) { return build_softmax(c, true); }),
      row("Dropout", 7, {"ratio", "seed"}, build_dropout, {1, 2}),
      row("ReduceMean", 1, {"axes", "keepdims"},
          [](const NodeContext& c) { return build_reduce(c, true); }),
      row("ReduceSum", 1, {"axes", "keepdims", "noop_with_empty_axes"},
          [](const NodeContext& c) { return build_reduce(c, false); }, {1}),
      row("Pad", 11, {"mode"}, build_pad, {1, 2}),
      row(
          "LSTM", 7, with(recurrent, {"input_forget"}),
          [](const NodeContext& c) { return build_recurrent(c, RecurrentKind::lstm); }, {4}, 3),
      row(
          "GRU", 7, with(recurrent, {"linear_before_reset"}),
          [](const NodeContext& c) { return build_recurrent(c, RecurrentKind::gru); }, {4}, 2),
      row(
          "RNN", 7, recurrent,
          [](const NodeContext& c) { return build_recurrent(c, RecurrentKind::rnn_tanh); }, {4}, 2),
  };
  return t;
}

}  // namespace

const std::vector<OpKind>& op_kinds() {
  static const std::vector<OpKind> table = make_table();
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
