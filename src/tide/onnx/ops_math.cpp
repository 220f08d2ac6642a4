// ONNX's arithmetic, matrix products, softmax and reductions.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <fmt/ranges.h>

#include "tide/autograd/ops.hpp"
#include "tide/onnx/ops.hpp"

namespace tide {
namespace {

using Unary = Variable (*)(const Variable&);

OpKind unary(std::string_view type, Unary f, int64_t since = 6) {
  return op_kind(type, since, {}, [f](const NodeContext& c) -> NodeFn {
    c.inputs_between(1, 1);
    return [f](const std::vector<Value>& in, RunState&) {
      return std::vector<Value>{float_value(f(floats(in[0], 0)))};
    };
  });
}

Variable reciprocal(const Variable& x) {
  return div(Variable(Tensor::scalar(1.0, x.dtype())), x);
}

Variable negate(const Variable& x) {
  return -x;
}

// Refuses integer arithmetic that overflowed.
void overflow(bool overflowed) {
  TIDE_CHECK(!overflowed, "integer arithmetic overflows 64 bits");
}

template <typename FloatOp, typename IntOp>
OpKind binary(std::string_view type, FloatOp float_op, IntOp int_op) {
  return op_kind(type, 7, {}, [float_op, int_op](const NodeContext& c) -> NodeFn {
    c.inputs_between(2, 2);
    return [float_op, int_op](const std::vector<Value>& in, RunState&) {
      check_size(broadcast_shapes(in[0].shape(), in[1].shape()), "output");
      if (in[0].is_int() && in[1].is_int())
        return std::vector<Value>{int_value(int_binary(in[0].ints, in[1].ints, int_op))};
      TIDE_CHECK(!in[0].is_int() && !in[1].is_int(), "its inputs mix integers and floating point");
      return std::vector<Value>{float_value(float_op(in[0].var, in[1].var))};
    };
  });
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

NodeFn build_erf(const NodeContext& c) {
  c.fail(
      "Tide runs Erf only inside GELU, x * 0.5 * (1 + erf(x / sqrt(2))), the pattern "
      "torch.onnx.export writes for nn.GELU");
}

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
    check_size(Shape(dims), "output");
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
  check_size(Shape(dims), "output");
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
    const bool bias_row = has_c && alpha == 1.0 && beta == 1.0 && cv.shape().ndim() == 1 &&
                          cv.shape()[0] == weight.shape()[0];
    Variable y = linear(a, weight, bias_row ? cv : Variable());
    if (alpha != 1.0) y = y * alpha;
    if (has_c && !bias_row) y = y + (beta == 1.0 ? cv : cv * beta);
    return std::vector<Value>{float_value(y)};
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

NodeFn build_reduce(const NodeContext& c, bool is_mean) {
  const bool axes_input = !is_mean && c.opset() >= 13;  // ReduceSum took them as an input
  c.inputs_between(1, axes_input ? 2 : 1);
  const bool keep = c.integer("keepdims", 1) != 0;
  const bool noop_empty = c.integer("noop_with_empty_axes", 0) != 0;
  if (axes_input) c.removed_at("axes", 13, "an input");
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
    TIDE_CHECK(std::adjacent_find(dims.begin(), dims.end()) == dims.end(),
               "axes [{}] name a dimension twice", fmt::join(axes, ", "));
    for (const int d : dims) x = is_mean ? mean(x, d, keep) : sum(x, d, keep);
    return std::vector<Value>{float_value(x)};
  };
}

}  // namespace

std::vector<OpKind> math_ops() {
  return {
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
          [](int64_t a, int64_t b) {
            int64_t r;
            overflow(__builtin_add_overflow(a, b, &r));
            return r;
          }),
      binary(
          "Sub", [](const Variable& a, const Variable& b) { return a - b; },
          [](int64_t a, int64_t b) {
            int64_t r;
            overflow(__builtin_sub_overflow(a, b, &r));
            return r;
          }),
      binary(
          "Mul", [](const Variable& a, const Variable& b) { return a * b; },
          [](int64_t a, int64_t b) {
            int64_t r;
            overflow(__builtin_mul_overflow(a, b, &r));
            return r;
          }),
      binary(
          "Div", [](const Variable& a, const Variable& b) { return a / b; },
          [](int64_t a, int64_t b) {
            TIDE_CHECK(b != 0, "integer division by zero");
            TIDE_CHECK(a != std::numeric_limits<int64_t>::min() || b != -1,
                       "integer arithmetic overflows 64 bits");
            return a / b;
          }),
      op_kind("Sum", 8, {}, build_sum),
      op_kind("Pow", 7, {}, build_pow, {1}),
      op_kind("Erf", 9, {}, build_erf),
      op_kind("MatMul", 1, {}, build_matmul),
      op_kind("Gemm", 7, {"alpha", "beta", "transA", "transB"}, build_gemm),
      op_kind("Softmax", 1, {"axis"}, [](const NodeContext& c) { return build_softmax(c, false); }),
      op_kind("LogSoftmax", 1, {"axis"},
              [](const NodeContext& c) { return build_softmax(c, true); }),
      op_kind("ReduceMean", 1, {"axes", "keepdims"},
              [](const NodeContext& c) { return build_reduce(c, true); }),
      op_kind("ReduceSum", 1, {"axes", "keepdims", "noop_with_empty_axes"},
              [](const NodeContext& c) { return build_reduce(c, false); }, {1}),
  };
}

}  // namespace tide
