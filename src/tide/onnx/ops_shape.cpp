// ONNX's shape ops: reshapes, transposes, concatenation, splits, slices and gathers, on
// floats (differentiated) and on integers (shapes, computed on the host).
#include <numeric>

#include <fmt/ranges.h>

#include "tide/autograd/ops.hpp"
#include "tide/onnx/ops.hpp"

namespace tide {
namespace {

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
  c.removed_at("axes", 13, "an input");
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
        TIDE_CHECK(!__builtin_mul_overflow(known, dims[i], &known), "the shape [{}] overflows",
                   fmt::join(dims, ", "));
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
    TIDE_CHECK(!perm || static_cast<int>(perm->size()) == r,
               "perm [{}] does not have the input's rank {}", fmt::join(*perm, ", "), r);
    std::vector<int> dims(r);
    for (int i = 0; i < r; ++i) dims[i] = perm ? axis_of((*perm)[i], r, "perm entry") : r - 1 - i;
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
    const int a = axis_of(axis, xs[0].shape().ndim());
    std::vector<int64_t> out = xs[0].shape().dims();  // the other sizes concat checks
    for (size_t i = 1; i < xs.size(); ++i)
      if (xs[i].shape().ndim() > a) out[a] += xs[i].shape()[a];
    check_size(Shape(out), "output");
    return std::vector<Value>{float_value(concat(xs, a))};
  };
}

NodeFn build_split(const NodeContext& c) {
  c.inputs_between(1, 2);
  const int64_t axis = c.integer("axis", 0);
  const int outputs = c.outputs();
  if (outputs < 1) c.fail("it has no outputs");
  c.removed_at("split", 13, "an input");
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
  for (const char* removed : {"starts", "ends", "axes"}) c.removed_at(removed, 10, "an input");
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

}  // namespace

std::vector<OpKind> shape_ops() {
  return {
      op_kind("Unsqueeze", 1, {"axes"}, build_unsqueeze, {1}),
      op_kind("Squeeze", 1, {"axes"}, build_squeeze, {1}),
      op_kind("Reshape", 5, {"allowzero"}, build_reshape, {1}),
      op_kind("Flatten", 1, {"axis"}, build_flatten),
      op_kind("Transpose", 1, {"perm"}, build_transpose),
      op_kind("Concat", 4, {"axis"}, build_concat),
      op_kind("Split", 2, {"axis", "split"}, build_split, {1}, -1),
      op_kind("Slice", 1, {"starts", "ends", "axes"}, build_slice, {1, 2, 3, 4}),
      op_kind("Gather", 1, {"axis"}, build_gather),
  };
}

}  // namespace tide
