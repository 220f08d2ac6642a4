// ONNX's network layers: convolution, pooling, normalisation, dropout and padding.
#include <map>

#include <fmt/ranges.h>

#include "tide/autograd/ops.hpp"
#include "tide/onnx/ops.hpp"

namespace tide {
namespace {

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

NodeFn build_batch_norm(const NodeContext& c) {
  if (c.integer("spatial", 1) != 1)
    c.fail("attribute spatial = 0 (statistics per element, not per channel) is not supported");
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

NodeFn build_dropout(const NodeContext& c) {
  c.inputs_between(1, 3);
  double ratio = 0.5;
  c.removed_at("ratio", 12, "an input");
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

NodeFn build_pad(const NodeContext& c) {
  c.inputs_between(2, 3);
  const std::string mode = c.text("mode", "constant");
  static const std::map<std::string, PaddingMode> modes = {{"constant", PaddingMode::zeros},
                                                           {"reflect", PaddingMode::reflect},
                                                           {"edge", PaddingMode::replicate}};
  const auto m = modes.find(mode);
  if (m == modes.end()) c.fail("attribute mode = '{}' is not constant, reflect or edge", mode);
  const PaddingMode pm = m->second;
  // Integers are padded as doubles (exact below 2^53); a constant c other than 0 pads x - c
  // with zeros and adds c back (exact for integers, within an ulp for floats).
  return [pm](const std::vector<Value>& in, RunState&) {
    const bool integers = in[0].is_int();
    const Variable x = integers ? Variable(in[0].ints.to(DType::f64)) : floats(in[0], 0);
    const std::vector<int64_t> p = int_list(ints(in[1], 1, "pads"));
    const int r = x.shape().ndim();
    TIDE_CHECK(static_cast<int>(p.size()) == 2 * r, "pads has {} entries for rank {}", p.size(), r);
    double fill = 0;
    if (in.size() > 2 && (in[2].is_int() || in[2].var.defined()))
      fill = in[2].is_int() ? in[2].ints.item() : in[2].var.value().item();
    TIDE_CHECK(fill == 0 || pm == PaddingMode::zeros, "a constant is for mode = 'constant'");
    TIDE_CHECK(r == 4, "Tide pads (N, C, H, W) tensors, got {}", x.shape().str());
    for (const int64_t v : p)
      TIDE_CHECK(v >= 0 && v <= (int64_t{1} << 20), "pads must be from 0 to 2^20, got [{}]",
                 fmt::join(p, ", "));
    check_size(
        Shape({x.shape()[0], x.shape()[1], x.shape()[2] + p[2] + p[6], x.shape()[3] + p[3] + p[7]}),
        "output");
    TIDE_CHECK(p[0] == 0 && p[1] == 0 && p[4] == 0 && p[5] == 0,
               "Tide pads the last two dimensions only; pads are [{}]", fmt::join(p, ", "));
    const std::array<int64_t, 4> sides = {p[3], p[7], p[2], p[6]};
    Variable y = fill == 0 ? pad2d(x, sides, pm, "Pad") : pad2d(x - fill, sides, pm, "Pad") + fill;
    if (!integers) return std::vector<Value>{float_value(y)};
    return std::vector<Value>{int_value(y.value().to(DType::i64))};
  };
}

}  // namespace

std::vector<OpKind> nn_ops() {
  const std::vector<std::string_view> window = {"auto_pad", "kernel_shape", "pads", "strides",
                                                "dilations"};
  auto with = [&](std::vector<std::string_view> more) {
    std::vector<std::string_view> a = window;
    a.insert(a.end(), more.begin(), more.end());
    return a;
  };
  OpKind batch_norm =
      op_kind("BatchNormalization", 9, {"epsilon", "momentum", "training_mode", "spatial"},
              build_batch_norm);
  batch_norm.buffer_inputs = {3, 4};
  return {
      op_kind("Conv", 1, with({"group"}), build_conv),
      op_kind("MaxPool", 8, with({"ceil_mode", "storage_order"}),
              [](const NodeContext& c) { return build_pool(c, true); }),
      op_kind("AveragePool", 7, with({"ceil_mode", "count_include_pad"}),
              [](const NodeContext& c) { return build_pool(c, false); }),
      op_kind("GlobalAveragePool", 1, {}, build_global_average_pool),
      batch_norm,
      op_kind("LayerNormalization", 17, {"axis", "epsilon", "stash_type"}, build_layer_norm),
      op_kind("Dropout", 7, {"ratio", "seed"}, build_dropout, {1, 2}),
      op_kind("Pad", 11, {"mode"}, build_pad, {1, 2}),
  };
}

}  // namespace tide
