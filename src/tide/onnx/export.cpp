// Writing a network as ONNX: each of Tide's modules as the ONNX nodes that compute what its
// forward() computes in evaluation mode, parameters as initializers under their state-dict
// names, every reshape written with 0 for the batch dimension so the batch size stays free.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <fmt/ranges.h>

#include "tide/autograd/ops.hpp"
#include "tide/nn/attention.hpp"
#include "tide/nn/conv_layers.hpp"
#include "tide/nn/norm_layers.hpp"
#include "tide/nn/recurrent.hpp"
#include "tide/onnx/onnx_network.hpp"
#include "tide/onnx/ops.hpp"

namespace tide {
namespace {

using onnx::AttributeProto;
using onnx::NodeProto;

class Exporter {
 public:
  explicit Exporter(onnx::GraphProto* graph) : g_(graph) {}

  // A node of `op` reading `inputs`, with `outputs` outputs.
  NodeProto* node(const std::string& op, const std::string& where,
                  const std::vector<std::string>& inputs, int outputs = 1) {
    NodeProto* n = g_->add_node();
    n->set_op_type(op);
    n->set_name(fmt::format("{}/{}_{}", where, op, count_++));
    for (const std::string& i : inputs) n->add_input(i);
    for (int k = 0; k < outputs; ++k) n->add_output(fmt::format("{}_output_{}", n->name(), k));
    return n;
  }
  // The output of a node of `type` without attributes.
  std::string op(const std::string& type, const std::string& where,
                 const std::vector<std::string>& inputs) {
    return node(type, where, inputs)->output(0);
  }
  static AttributeProto* attribute(NodeProto* n, const std::string& name,
                                   AttributeProto::AttributeType type) {
    AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(type);
    return a;
  }
  static void set(NodeProto* n, const std::string& name, int64_t v) {
    attribute(n, name, AttributeProto::INT)->set_i(v);
  }
  static void set(NodeProto* n, const std::string& name, double v) {
    attribute(n, name, AttributeProto::FLOAT)->set_f(static_cast<float>(v));
  }
  static void set(NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
    AttributeProto* a = attribute(n, name, AttributeProto::INTS);
    for (const int64_t x : v) a->add_ints(x);
  }
  static void set(NodeProto* n, const std::string& name, const std::vector<std::string>& v) {
    AttributeProto* a = attribute(n, name, AttributeProto::STRINGS);
    for (const std::string& x : v) a->add_strings(x);
  }
  static void set(NodeProto* n, const std::string& name, const std::string& v) {
    attribute(n, name, AttributeProto::STRING)->set_s(v);
  }

  // An initializer holding `t`, named `name`.
  std::string initializer(const std::string& name, const Tensor& t) {
    tensor_to_proto(t, name, g_->add_initializer());
    return name;
  }
  std::string ints(const std::vector<int64_t>& v) {
    return initializer(fmt::format("/constants/ints_{}", count_++),
                       Tensor::from<int64_t>(Shape({static_cast<int64_t>(v.size())}), v));
  }
  std::string scalar(double v) {
    return initializer(fmt::format("/constants/float_{}", count_++), Tensor::scalar(v));
  }
  std::string reshape(const std::string& where, const std::string& x,
                      const std::vector<int64_t>& shape) {
    return op("Reshape", where, {x, ints(shape)});
  }
  std::string transpose(const std::string& where, const std::string& x,
                        const std::vector<int64_t>& perm) {
    NodeProto* n = node("Transpose", where, {x});
    set(n, "perm", perm);
    return n->output(0);
  }
  std::string axis_op(const std::string& type, const std::string& where,
                      const std::vector<std::string>& inputs, int64_t axis) {
    NodeProto* n = node(type, where, inputs);
    set(n, "axis", axis);
    return n->output(0);
  }
  // x * 0.5 * (1 + erf(x / sqrt 2)), as torch.onnx writes GELU (and the importer reads it).
  std::string gelu(const std::string& where, const std::string& x) {
    const std::string e = op("Erf", where, {op("Div", where, {x, scalar(std::sqrt(2.0))})});
    return op("Mul", where,
              {op("Mul", where, {x, op("Add", where, {e, scalar(1.0)})}), scalar(0.5)});
  }

  // x (..., in) times weight (out, in) transposed plus bias: Gemm for a matrix, else MatMul.
  std::string linear(const std::string& where, const std::string& x, int rank,
                     const std::string& weight, const std::string& bias) {
    if (rank == 2) {
      std::vector<std::string> in = {x, weight};
      if (!bias.empty()) in.push_back(bias);
      NodeProto* n = node("Gemm", where, in);
      set(n, "transB", int64_t{1});
      return n->output(0);
    }
    const std::string y = op("MatMul", where, {x, transpose(where, weight, {1, 0})});
    return bias.empty() ? y : op("Add", where, {y, bias});
  }

  // Writes module `m` (its state-dict prefix `prefix`, "" or "layer0.") applied to the
  // value `x` of shape `in` (batch first); returns the output value and sets `in` to its
  // shape.
  std::string emit(Module& m, const std::string& prefix, const std::string& x, Shape& in);

 private:
  // Where a module is written: its state-dict prefix ("" or "layer0."), the name its nodes
  // take ("/layer0"), its own parameters' and buffers' full names by local name, and the
  // shape of its input (batch first).
  struct Site {
    std::string prefix, where;
    std::map<std::string, std::string> own;
    Shape in;
    // The full name of the module's own `local` tensor, or "" when it has none.
    std::string param(const std::string& local) const {
      const auto it = own.find(local);
      return it == own.end() ? std::string() : it->second;
    }
  };
  std::string emit_module(Module& m, const Site& s, const std::string& x);
  // Sets `in` to the sequence's output shape.
  std::string emit_sequential(Sequential& m, const Site& s, const std::string& x, Shape& in);
  std::string emit_branches(Module& m, const Site& s, const std::string& x);
  std::string emit_conv(Conv2d& m, const Site& s, const std::string& x);
  std::string emit_pool(const Pool2dOptions& o, bool max, const Site& s, const std::string& x);
  std::string emit_adaptive_pool(AdaptiveAvgPool2d& m, const Site& s, const std::string& x);
  std::string emit_norm(Module& m, const Site& s, const std::string& x);
  std::string emit_reshaping(Module& m, const Site& s, const std::string& x);
  std::string emit_activation(Activation& m, const Site& s, const std::string& x);
  std::string emit_transformer(TransformerEncoderLayer& m, const Site& s, const std::string& x);
  std::string emit_attention(MultiheadAttention& m, const Site& s, const std::string& x);
  std::string emit_recurrent(Recurrent& m, const Site& s, const std::string& x);

  onnx::GraphProto* g_;
  int64_t count_ = 0;
};

// The full names of m's own parameters and buffers, by their local names.
std::map<std::string, std::string> own_names(const Module& m, const std::string& prefix) {
  std::map<std::string, std::string> out;
  for (const auto& [local, t] : m.state_dict())
    if (local.find('.') == std::string::npos) out[local] = prefix + local;
  return out;
}

std::map<std::string, Module*> children_of(const Module& m) {
  std::map<std::string, Module*> out;
  for (const auto& [name, child] : m.children()) out[name] = child.get();
  return out;
}

// "/layer0.self_attn": a node name's prefix for the module at `prefix`.
std::string where_of(const std::string& prefix) {
  return "/" + (prefix.empty() ? std::string("net") : prefix.substr(0, prefix.size() - 1));
}

// The output shape of m for an input of `in`: one forward in evaluation mode on zeros.
Shape output_shape(Module& m, const Shape& in) {
  NoGradGuard no_grad;
  const bool training = m.is_training();
  m.eval();
  const Shape out = m.forward(Variable(Tensor::zeros(in))).shape();
  m.train(training);
  return out;
}

std::vector<int64_t> pads_of(std::array<int64_t, 2> p) {
  return {p[0], p[1], p[0], p[1]};
}

std::string Exporter::emit(Module& m, const std::string& prefix, const std::string& x, Shape& in) {
  const Site site{
      .prefix = prefix, .where = where_of(prefix), .own = own_names(m, prefix), .in = in};
  // A sequence's children give its shape as they are written; any other module runs once.
  if (auto* q = dynamic_cast<Sequential*>(&m)) return emit_sequential(*q, site, x, in);
  const Shape out = output_shape(m, in);
  const std::string y = emit_module(m, site, x);
  in = out;
  return y;
}

std::string Exporter::emit_module(Module& m, const Site& s, const std::string& x) {
  if (dynamic_cast<Concat*>(&m) || dynamic_cast<Sum*>(&m)) return emit_branches(m, s, x);
  if (dynamic_cast<Identity*>(&m)) return op("Identity", s.where, {x});
  if (dynamic_cast<Linear*>(&m))
    return linear(s.where, x, s.in.ndim(), s.param("weight"), s.param("bias"));
  if (auto* c = dynamic_cast<Conv2d*>(&m)) return emit_conv(*c, s, x);
  if (auto* p = dynamic_cast<MaxPool2d*>(&m)) return emit_pool(p->options(), true, s, x);
  if (auto* p = dynamic_cast<AvgPool2d*>(&m)) return emit_pool(p->options(), false, s, x);
  if (auto* a = dynamic_cast<AdaptiveAvgPool2d*>(&m)) return emit_adaptive_pool(*a, s, x);
  if (dynamic_cast<BatchNorm*>(&m) || dynamic_cast<LayerNorm*>(&m)) return emit_norm(m, s, x);
  if (auto* d = dynamic_cast<Dropout*>(&m))  // without training_mode: passes its input through
    return op("Dropout", s.where, {x, scalar(d->p())});
  if (dynamic_cast<Embedding*>(&m)) {
    NodeProto* cast = node("Cast", s.where, {x});
    set(cast, "to", int64_t{onnx::TensorProto::INT64});
    return axis_op("Gather", s.where, {s.param("weight"), cast->output(0)}, 0);
  }
  if (dynamic_cast<Mean*>(&m) || dynamic_cast<Permute*>(&m) || dynamic_cast<Flatten*>(&m))
    return emit_reshaping(m, s, x);
  if (auto* a = dynamic_cast<Activation*>(&m)) return emit_activation(*a, s, x);
  if (auto* r = dynamic_cast<Recurrent*>(&m)) return emit_recurrent(*r, s, x);
  if (auto* a = dynamic_cast<MultiheadAttention*>(&m)) return emit_attention(*a, s, x);
  if (auto* t = dynamic_cast<TransformerEncoderLayer*>(&m)) return emit_transformer(*t, s, x);
  if (dynamic_cast<OnnxNetwork*>(&m))
    TIDE_FAIL("{}: an imported ONNX graph inside another network cannot be exported", s.where);
  TIDE_FAIL("{}: {} has no ONNX export", s.where, m.describe());
}

std::string Exporter::emit_sequential(Sequential& m, const Site& s, const std::string& x,
                                      Shape& in) {
  std::string y = x;
  for (const Sequential::Stage& stage : m.plan()) {
    if (stage.count == 0) {  // a parameter added to the input: "+positions"
      y = op("Add", s.where, {y, s.prefix + stage.op.substr(1)});
      continue;
    }
    for (size_t i = stage.first; i < stage.first + stage.count; ++i) {
      const auto& [name, child] = m.children()[i];
      y = emit(*child, s.prefix + name + ".", y, in);
    }
  }
  return y;
}

// Concat or Sum: every branch on the same input, joined.
std::string Exporter::emit_branches(Module& m, const Site& s, const std::string& x) {
  std::vector<std::string> parts;
  for (const auto& [name, child] : m.children()) {
    Shape branch = s.in;
    parts.push_back(emit(*child, s.prefix + name + ".", x, branch));
  }
  if (auto* c = dynamic_cast<Concat*>(&m)) return axis_op("Concat", s.where, parts, c->dim());
  std::string y = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) y = op("Add", s.where, {y, parts[i]});
  return y;
}

std::string Exporter::emit_conv(Conv2d& m, const Site& s, const std::string& x) {
  const Conv2dOptions& o = m.options();
  std::string input = x;
  std::vector<int64_t> pads = pads_of(o.padding);
  if (o.padding_mode != PaddingMode::zeros) {
    static const std::map<PaddingMode, std::string> modes = {{PaddingMode::reflect, "reflect"},
                                                             {PaddingMode::replicate, "edge"}};
    const auto mode = modes.find(o.padding_mode);
    TIDE_CHECK(mode != modes.end(),
               "{}: ONNX's Pad (opset {}) has no circular mode; this Conv2d cannot be exported",
               s.where, kOnnxExportOpset);
    const int64_t ph = o.padding[0], pw = o.padding[1];
    NodeProto* p = node("Pad", s.where, {x, ints({0, 0, ph, pw, 0, 0, ph, pw})});
    set(p, "mode", mode->second);
    input = p->output(0);
    pads = {0, 0, 0, 0};
  }
  std::vector<std::string> inputs = {input, s.param("weight")};
  if (!s.param("bias").empty()) inputs.push_back(s.param("bias"));
  NodeProto* n = node("Conv", s.where, inputs);
  const Shape& w = m.weight().shape();
  set(n, "kernel_shape", std::vector<int64_t>{w[2], w[3]});
  set(n, "strides", std::vector<int64_t>{o.stride[0], o.stride[1]});
  set(n, "dilations", std::vector<int64_t>{o.dilation[0], o.dilation[1]});
  set(n, "pads", pads);
  set(n, "group", o.groups);
  return n->output(0);
}

std::string Exporter::emit_pool(const Pool2dOptions& o, bool max, const Site& s,
                                const std::string& x) {
  NodeProto* n = node(max ? "MaxPool" : "AveragePool", s.where, {x});
  set(n, "kernel_shape", std::vector<int64_t>{o.kernel[0], o.kernel[1]});
  const std::array<int64_t, 2> stride = o.stride[0] == 0 ? o.kernel : o.stride;
  set(n, "strides", std::vector<int64_t>{stride[0], stride[1]});
  set(n, "pads", pads_of(o.padding));
  set(n, "ceil_mode", int64_t{o.ceil_mode});
  if (max)
    set(n, "dilations", std::vector<int64_t>{o.dilation[0], o.dilation[1]});
  else
    set(n, "count_include_pad", int64_t{o.count_include_pad});
  return n->output(0);
}

std::string Exporter::emit_adaptive_pool(AdaptiveAvgPool2d& m, const Site& s,
                                         const std::string& x) {
  const auto [oh, ow] = m.output_size();
  if (oh == 1 && ow == 1) return op("GlobalAveragePool", s.where, {x});
  TIDE_CHECK(s.in[2] % oh == 0 && s.in[3] % ow == 0,
             "{}: adaptive average pooling of {} into [{}, {}] has windows of different sizes, "
             "which ONNX's AveragePool cannot express",
             s.where, s.in.str(), oh, ow);
  NodeProto* n = node("AveragePool", s.where, {x});
  set(n, "kernel_shape", std::vector<int64_t>{s.in[2] / oh, s.in[3] / ow});
  set(n, "strides", std::vector<int64_t>{s.in[2] / oh, s.in[3] / ow});
  return n->output(0);
}

std::string Exporter::emit_norm(Module& m, const Site& s, const std::string& x) {
  TIDE_CHECK(!s.param("weight").empty(), "{}: a normalisation without affine parameters", s.where);
  if (auto* b = dynamic_cast<BatchNorm*>(&m)) {
    NodeProto* n = node(
        "BatchNormalization", s.where,
        {x, s.param("weight"), s.param("bias"), s.param("running_mean"), s.param("running_var")});
    set(n, "epsilon", b->eps());
    set(n, "momentum", 1.0 - b->momentum());  // ONNX's share of the running value
    return n->output(0);
  }
  const auto& l = dynamic_cast<LayerNorm&>(m);
  std::vector<std::string> inputs = {x, s.param("weight")};
  if (!s.param("bias").empty()) inputs.push_back(s.param("bias"));
  NodeProto* n = node("LayerNormalization", s.where, inputs);
  set(n, "axis", int64_t{-l.normalized_shape().ndim()});
  set(n, "epsilon", l.eps());
  return n->output(0);
}

// Mean over a dimension, Permute and Flatten.
std::string Exporter::emit_reshaping(Module& m, const Site& s, const std::string& x) {
  if (auto* mean = dynamic_cast<Mean*>(&m)) {
    NodeProto* n = node("ReduceMean", s.where, {x});
    set(n, "axes", std::vector<int64_t>{mean->dim()});
    set(n, "keepdims", int64_t{0});
    return n->output(0);
  }
  if (auto* p = dynamic_cast<Permute*>(&m))
    return transpose(s.where, x, std::vector<int64_t>(p->dims().begin(), p->dims().end()));
  const auto& f = dynamic_cast<Flatten&>(m);
  const int start = f.start_dim() < 0 ? f.start_dim() + s.in.ndim() : f.start_dim();
  if (start == 0) return reshape(s.where, x, {-1});
  if (start == 1) return axis_op("Flatten", s.where, {x}, 1);
  std::vector<int64_t> shape = {0};  // the batch as it comes
  for (int i = 1; i < start; ++i) shape.push_back(s.in[i]);
  shape.push_back(-1);
  return reshape(s.where, x, shape);
}

std::string Exporter::emit_activation(Activation& m, const Site& s, const std::string& x) {
  const std::string name = m.describe();
  if (name == "ReLU") return op("Relu", s.where, {x});
  if (name == "Sigmoid") return op("Sigmoid", s.where, {x});
  if (name == "Tanh") return op("Tanh", s.where, {x});
  if (name == "GELU") return gelu(s.where, x);
  TIDE_FAIL("{}: the activation {} has no ONNX export", s.where, name);
}

// Dropout passes through in evaluation, so the layer is its norms, attention and MLP.
std::string Exporter::emit_transformer(TransformerEncoderLayer& m, const Site& s,
                                       const std::string& x) {
  const TransformerOptions& o = m.options();
  const std::map<std::string, Module*> parts = children_of(m);
  auto sub = [&](const std::string& name, const std::string& v) {
    Shape in = s.in;
    return emit(*parts.at(name), s.prefix + name + ".", v, in);
  };
  auto feed_forward = [&](const std::string& v) {
    Shape in = s.in;
    const std::string h = emit(*parts.at("linear1"), s.prefix + "linear1.", v, in);
    return emit(*parts.at("linear2"), s.prefix + "linear2.",
                o.gelu ? gelu(s.where, h) : op("Relu", s.where, {h}), in);
  };
  if (o.norm_first) {
    const std::string r = op("Add", s.where, {x, sub("self_attn", sub("norm1", x))});
    return op("Add", s.where, {r, feed_forward(sub("norm2", r))});
  }
  const std::string r = sub("norm1", op("Add", s.where, {x, sub("self_attn", x)}));
  return sub("norm2", op("Add", s.where, {r, feed_forward(r)}));
}

// Self-attention as torch.onnx writes it: three projections split into heads, scaled dot
// products, softmax, the heads merged and projected.
std::string Exporter::emit_attention(MultiheadAttention& m, const Site& s, const std::string& x) {
  const std::string& where = s.where;
  const Shape& in = s.in;
  const int64_t e = m.embed_dim(), h = m.num_heads(), d = e / h;
  const std::map<std::string, std::string>& own = s.own;
  auto rows = [&](const std::string& t, int64_t k) {
    return op("Slice", where, {t, ints({k * e}), ints({(k + 1) * e}), ints({0})});
  };
  static const char* separate[] = {"q_proj_weight", "k_proj_weight", "v_proj_weight"};
  auto heads = [&](int k, const std::vector<int64_t>& perm) {
    const std::string w =
        own.contains("in_proj_weight") ? rows(own.at("in_proj_weight"), k) : own.at(separate[k]);
    const std::string p = linear(where, x, in.ndim(), w, rows(own.at("in_proj_bias"), k));
    return transpose(where, reshape(where, p, {0, 0, h, d}), perm);
  };
  const std::string q = heads(0, {0, 2, 1, 3});   // (B, H, T, D)
  const std::string kt = heads(1, {0, 2, 3, 1});  // (B, H, D, S)
  const std::string v = heads(2, {0, 2, 1, 3});   // (B, H, S, D)
  const std::string scores =
      op("Mul", where,
         {op("MatMul", where, {q, kt}), scalar(1.0 / std::sqrt(static_cast<double>(d)))});
  const std::string attended = op("MatMul", where, {axis_op("Softmax", where, {scores}, -1), v});
  const std::string merged = reshape(where, transpose(where, attended, {0, 2, 1, 3}), {0, 0, e});
  Shape shape = in;
  return emit(*children_of(m).at("out_proj"), s.prefix + "out_proj.", merged, shape);
}

// Each layer (both directions) as ONNX's LSTM, GRU or RNN over (T, N, I): the weights are
// Tide's (PyTorch's) initializers, their gates reordered by nodes into ONNX's order.
std::string Exporter::emit_recurrent(Recurrent& m, const Site& s, const std::string& x) {
  const std::string& where = s.where;
  const RecurrentOptions& o = m.options();
  const int64_t hsize = o.hidden_size, dirs = o.bidirectional ? 2 : 1;
  const bool lstm = o.kind == RecurrentKind::lstm, gru = o.kind == RecurrentKind::gru;
  const std::vector<int>& tide_to_onnx = onnx_gates(o.kind);
  const int64_t gates = static_cast<int64_t>(tide_to_onnx.size());
  std::vector<int64_t> order(gates);  // ONNX's block k is Tide's gate order[k]
  for (int64_t k = 0; k < gates; ++k) order[tide_to_onnx[k]] = k;
  const std::map<std::string, std::string>& own = s.own;
  auto reordered = [&](const std::string& t) {
    if (gates == 1) return t;
    NodeProto* split = node("Split", where, {t, ints(std::vector<int64_t>(gates, hsize))},
                            static_cast<int>(gates));
    set(split, "axis", int64_t{0});
    std::vector<std::string> blocks;
    for (const int64_t k : order) blocks.push_back(split->output(static_cast<int>(k)));
    return axis_op("Concat", where, blocks, 0);
  };
  auto stacked = [&](const std::vector<std::string>& per_direction) {
    std::vector<std::string> parts;
    for (const std::string& p : per_direction)
      parts.push_back(op("Unsqueeze", where, {p, ints({0})}));
    return parts.size() == 1 ? parts[0] : axis_op("Concat", where, parts, 0);
  };
  std::string seq = transpose(where, x, {1, 0, 2});  // (T, N, I)
  std::string y, y_h;
  for (int64_t l = 0; l < o.num_layers; ++l) {
    std::vector<std::string> w, r, b;
    for (int64_t d = 0; d < dirs; ++d) {
      const std::string suffix = fmt::format("_l{}{}", l, d == 1 ? "_reverse" : "");
      w.push_back(reordered(own.at("weight_ih" + suffix)));
      r.push_back(reordered(own.at("weight_hh" + suffix)));
      if (o.bias)
        b.push_back(axis_op(
            "Concat", where,
            {reordered(own.at("bias_ih" + suffix)), reordered(own.at("bias_hh" + suffix))}, 0));
    }
    std::vector<std::string> inputs = {seq, stacked(w), stacked(r)};
    if (o.bias) inputs.push_back(stacked(b));
    NodeProto* n = node(lstm ? "LSTM" : gru ? "GRU" : "RNN", where, inputs, lstm ? 3 : 2);
    set(n, "hidden_size", hsize);
    if (dirs == 2) set(n, "direction", std::string("bidirectional"));
    if (gru) set(n, "linear_before_reset", int64_t{1});
    if (o.kind == RecurrentKind::rnn_relu)
      set(n, "activations", std::vector<std::string>(dirs, "Relu"));
    y = n->output(0);                                                     // (T, D, N, H)
    y_h = n->output(1);                                                   // (D, N, H)
    seq = reshape(where, transpose(where, y, {0, 2, 1, 3}), {0, 0, -1});  // (T, N, D * H)
  }
  if (o.last_state) return reshape(where, transpose(where, y_h, {1, 0, 2}), {0, -1});
  return reshape(where, transpose(where, y, {2, 0, 1, 3}), {0, 0, -1});
}

void set_type(onnx::ValueInfoProto* v, const std::string& name, const Shape& sample) {
  v->set_name(name);
  onnx::TypeProto_Tensor* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  t->mutable_shape()->add_dim()->set_dim_param("batch");
  for (int i = 0; i < sample.ndim(); ++i) t->mutable_shape()->add_dim()->set_dim_value(sample[i]);
}

// An imported graph: its own nodes, with the trained values of its initializers in their
// own element types (Tide trains float16 and bfloat16 ones in f32 and does not round them
// back: such a graph is refused).
onnx::ModelProto export_imported(OnnxNetwork& net) {
  onnx::ModelProto m = net.model().proto().model;
  const TensorMap state = net.state_dict();
  for (onnx::TensorProto& t : *m.mutable_graph()->mutable_initializer()) {
    const auto it = state.find(t.name());
    if (it == state.end()) continue;  // a constant
    const int32_t type = t.data_type();
    TIDE_CHECK(type == onnx::TensorProto::FLOAT || type == onnx::TensorProto::DOUBLE,
               "{}: initializer '{}' is {}; Tide writes float and double initializers back",
               net.model().source(), t.name(),
               onnx::TensorProto::DataType_Name(static_cast<onnx::TensorProto::DataType>(type)));
    const std::string name = t.name();
    t.Clear();
    tensor_to_proto(it->second.to(type == onnx::TensorProto::DOUBLE ? DType::f64 : DType::f32),
                    name, &t);
  }
  return m;
}

}  // namespace

std::string onnx_bytes(Module& module, const Shape& sample) {
  onnx::ModelProto m;
  if (auto* imported = dynamic_cast<OnnxNetwork*>(&module)) {
    m = export_imported(*imported);
  } else {
    m.set_ir_version(8);
    onnx::OperatorSetIdProto* opset = m.add_opset_import();
    opset->set_domain("");
    opset->set_version(kOnnxExportOpset);
    onnx::GraphProto* g = m.mutable_graph();
    g->set_name("tide");
    Exporter e(g);
    for (const auto& [name, t] : module.state_dict())
      if (name.find("num_batches_tracked") == std::string::npos) e.initializer(name, t);
    std::vector<int64_t> dims = {1};
    dims.insert(dims.end(), sample.dims().begin(), sample.dims().end());
    Shape shape(dims);
    const std::string y = e.emit(module, "", "input", shape);
    NodeProto* out = g->add_node();
    out->set_op_type("Identity");
    out->set_name("/output");
    out->add_input(y);
    out->add_output("output");
    set_type(g->add_input(), "input", sample);
    set_type(g->add_output(), "output",
             Shape(std::vector<int64_t>(shape.dims().begin() + 1, shape.dims().end())));
  }
  m.set_producer_name("tide");
  return m.SerializeAsString();
}

void write_onnx(Module& module, const Shape& sample, const std::string& path) {
  const std::string bytes = onnx_bytes(module, sample);
  const std::string partial = path + ".partial";
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    TIDE_CHECK(out.good(), "{}: cannot write the ONNX model", partial);
  }
  std::error_code ec;
  std::filesystem::rename(partial, path, ec);
  TIDE_CHECK(!ec, "{}: cannot write the ONNX model: {}", path, ec.message());
}

}  // namespace tide
