// An ONNX graph built as a Module, and the Network of an ONNX file.
#include "tide/onnx/onnx_network.hpp"

#include <cmath>
#include <set>

#include <fmt/ranges.h>

#include "tide/autograd/ops.hpp"
#include "tide/onnx/ops.hpp"
#include "tide/onnx/patterns.hpp"

namespace tide {
namespace {

using onnx::NodeProto;

bool is_float(const Tensor& t) {
  return t.dtype() != DType::i64;
}

// The row of the node `c` builds, checked against it: its op, opset and attributes.
const OpKind& checked_kind(const NodeContext& c) {
  const NodeProto& n = c.node();
  const OpKind* kind = find_op_kind(n.op_type());
  if (kind == nullptr) {
    std::vector<std::string_view> known;
    for (const OpKind& k : op_kinds()) known.push_back(k.type);
    std::ranges::sort(known);
    c.fail("Tide does not run the op {}; it runs {}", n.op_type(), fmt::join(known, ", "));
  }
  if (c.opset() < kind->since)
    c.fail("Tide reads {} from opset {} on, where it means what it means today", n.op_type(),
           kind->since);
  for (const onnx::AttributeProto& a : n.attribute())
    if (std::ranges::count(kind->attributes, a.name()) == 0)
      c.fail("attribute '{}' is not one Tide reads for {} (it reads {})", a.name(), n.op_type(),
             kind->attributes.empty() ? std::string("none")
                                      : fmt::format("{}", fmt::join(kind->attributes, ", ")));
  return *kind;
}

}  // namespace

OnnxNetwork::OnnxNetwork(OnnxModel model, uint64_t seed) : model_(std::move(model)) {
  const OnnxModel::Proto& p = model_.proto();
  const onnx::GraphProto& g = p.model.graph();
  const std::string& source = model_.source();
  std::map<const NodeProto*, int> index;
  for (int i = 0; i < g.node_size(); ++i) index[&g.node(i)] = i;
  auto where = [&](const NodeProto* n) {
    return fmt::format("{}: {}", source, node_label(*n, index[n], p.opset));
  };

  std::map<std::string, int> ids;
  auto id_of = [&](const std::string& name) {
    const auto [it, added] = ids.emplace(name, values_);
    if (added) ++values_;
    return it->second;
  };
  input_ = id_of(model_.input_name());
  for (const onnx::ValueInfoProto& v : g.input())
    if (v.name() == model_.input_name() && v.type().has_tensor_type()) {
      const int32_t t = v.type().tensor_type().elem_type();
      integer_input_ = t != onnx::TensorProto::FLOAT && t != onnx::TensorProto::DOUBLE &&
                       t != onnx::TensorProto::FLOAT16 && t != onnx::TensorProto::BFLOAT16 &&
                       t != onnx::TensorProto::UNDEFINED;
    }

  // What each initializer is: a running statistic (a buffer), a setting (a constant), or a
  // parameter, by the inputs of the nodes that read it.
  std::set<std::string> buffer_names, data_reads;
  for (const NodeProto* n : p.order) {
    const OpKind* kind = find_op_kind(n->op_type());
    for (int i = 0; i < n->input_size(); ++i) {
      const bool buffer = kind && std::ranges::count(kind->buffer_inputs, i) > 0;
      const bool setting = kind && std::ranges::count(kind->setting_inputs, i) > 0;
      if (buffer)
        buffer_names.insert(n->input(i));
      else if (!setting)
        data_reads.insert(n->input(i));
    }
  }
  std::map<std::string, Tensor> buffers, constants;
  for (const onnx::TensorProto& t : g.initializer()) {
    Tensor value = tensor_from_proto(t, fmt::format("{}: initializer '{}'", source, t.name()));
    const int id = id_of(t.name());
    if (buffer_names.contains(t.name()) && is_float(value)) {
      TIDE_CHECK(!data_reads.contains(t.name()),
                 "{}: initializer '{}' is both a running statistic of a batch norm and the input "
                 "of another node; Tide keeps it as one or the other",
                 source, t.name());
      register_buffer(t.name(), value);
      buffers[t.name()] = buffer(t.name());
      statics_.emplace_back(id, float_value(Variable(buffers[t.name()])));
    } else if (is_float(value) && value.ndim() > 0 && data_reads.contains(t.name())) {
      statics_.emplace_back(id, float_value(register_parameter(t.name(), value)));
    } else {
      constants[t.name()] = value;
      statics_.emplace_back(id, constant_value(value));
    }
  }
  // Constant nodes are values before the graph runs.
  std::set<const NodeProto*> constant_nodes;
  for (const NodeProto* n : p.order) {
    if (n->op_type() != "Constant") continue;
    const NodeContext c(*n, where(n), p.opset, buffers, constants, nullptr);
    RunState none;
    const Value v = checked_kind(c).build(c)({}, none)[0];
    if (n->output_size() < 1 || n->output(0).empty()) continue;
    constants[n->output(0)] = v.is_int() ? v.ints : v.var.value();
    statics_.emplace_back(id_of(n->output(0)), v);
    constant_nodes.insert(n);
  }

  std::set<std::string> graph_outputs = {g.output(0).name()};
  std::set<std::string> initializer_names;
  for (const onnx::TensorProto& t : g.initializer()) initializer_names.insert(t.name());
  const Fusions fusions = find_fusions(p.order, constants, initializer_names, graph_outputs);
  std::map<std::string, const NodeProto*> read_by;  // a reader of each value, for messages
  for (const NodeProto* n : p.order)
    for (const std::string& i : n->input()) read_by.emplace(i, n);

  for (const NodeProto* n : p.order) {
    if (constant_nodes.contains(n) || fusions.skipped.contains(n)) continue;
    Step s;
    s.where = where(n);
    s.name = n->name().empty() ? fmt::format("#{}", index[n]) : n->name();
    s.op = n->op_type();
    if (const auto it = fusions.at.find(n); it != fusions.at.end()) {
      s.op = it->second.op;
      for (const std::string& i : it->second.inputs) s.in.push_back(id_of(i));
      s.reads = it->second.inputs;
      s.out = {id_of(n->output(0))};
      s.run = it->second.run;
      steps_.push_back(std::move(s));
      continue;
    }
    const NodeContext c(*n, s.where, p.opset, buffers, constants, [this, seed] {
      dropouts_.push_back(std::make_unique<DropoutStreams>(seed, dropouts_.size()));
      return dropouts_.back().get();
    });
    const OpKind* kind = &checked_kind(c);
    for (int k = kind->outputs < 0 ? n->output_size() : kind->outputs; k < n->output_size(); ++k) {
      const std::string& out = n->output(k);
      if (out.empty()) continue;
      if (graph_outputs.contains(out))
        c.fail("its output {} ('{}') is the graph's output, but Tide does not compute it", k, out);
      if (const auto r = read_by.find(out); r != read_by.end())
        c.fail("its output {} ('{}') is read by {}, but Tide does not compute it", k, out,
               node_label(*r->second, index[r->second], p.opset));
    }
    s.run = kind->build(c);
    for (const std::string& i : n->input()) s.in.push_back(i.empty() ? -1 : id_of(i));
    s.reads.assign(n->input().begin(), n->input().end());
    const int computed =
        kind->outputs < 0 ? n->output_size() : std::min(kind->outputs, n->output_size());
    for (int k = 0; k < computed; ++k)
      s.out.push_back(n->output(k).empty() ? -1 : id_of(n->output(k)));
    steps_.push_back(std::move(s));
  }
  output_ = id_of(g.output(0).name());

  // Each value is dropped after the last step that reads it (the graph's output and the
  // static values stay).
  std::vector<int> last(values_, -1);
  for (size_t k = 0; k < steps_.size(); ++k)
    for (const int i : steps_[k].in)
      if (i >= 0) last[i] = static_cast<int>(k);
  std::set<int> kept = {output_};
  for (const auto& [id, v] : statics_) kept.insert(id);
  for (int i = 0; i < values_; ++i)
    if (last[i] >= 0 && !kept.contains(i)) steps_[last[i]].release.push_back(i);
}

Variable OnnxNetwork::forward(const Variable& x) {
  std::vector<Value> env(values_);
  for (const auto& [id, v] : statics_) env[id] = v;
  env[input_] = integer_input_ ? int_value(x.value().dtype() == DType::i64
                                               ? x.value()
                                               : x.value().to(DType::f64).to(DType::i64))
                               : float_value(x);
  RunState state{.training = is_training()};
  shapes_.assign(steps_.size(), std::nullopt);
  for (size_t k = 0; k < steps_.size(); ++k) {
    const Step& s = steps_[k];
    std::vector<Value> in;
    in.reserve(s.in.size());
    for (const int i : s.in) in.push_back(i < 0 ? Value{} : env[i]);
    std::vector<Value> out;
    try {
      out = s.run(in, state);
    } catch (const Error& e) {
      TIDE_FAIL("{}: {}", s.where, e.what());
    }
    TIDE_CHECK(out.size() >= s.out.size(), "{}: gave {} outputs of {}", s.where, out.size(),
               s.out.size());
    for (size_t o = 0; o < s.out.size(); ++o)
      if (s.out[o] >= 0) env[s.out[o]] = std::move(out[o]);
    if (!s.out.empty() && s.out[0] >= 0 && !env[s.out[0]].is_int())
      shapes_[k] = env[s.out[0]].var.shape();
    for (const int i : s.release) env[i] = {};
  }
  TIDE_CHECK(!env[output_].is_int() && env[output_].var.defined(),
             "{}: the graph's output '{}' is not floating point", model_.source(),
             model_.proto().model.graph().output(0).name());
  return env[output_].var;
}

std::string OnnxNetwork::describe() const {
  return fmt::format("OnnxGraph({}, {} nodes)", model_.source(), steps_.size());
}

void OnnxNetwork::begin_step(int64_t step) {
  Module::begin_step(step);
  for (const auto& d : dropouts_) d->begin_step(step);
}

Network build_network(const OnnxModel& model, const NetworkInputs& inputs) {
  const std::vector<int64_t> dims = model.input_dims();
  const std::vector<int64_t>& sample = inputs.sample.dims();
  bool fits = dims.empty() || dims.size() == sample.size() + 1;
  for (size_t i = 1; fits && i < dims.size(); ++i) fits = dims[i] < 0 || dims[i] == sample[i - 1];
  auto shown = [](const std::vector<int64_t>& d) {
    std::vector<std::string> s;
    for (size_t i = 0; i < d.size(); ++i)
      s.push_back(d[i] < 0 ? (i == 0 ? "batch" : "?") : std::to_string(d[i]));
    return fmt::format("[{}]", fmt::join(s, ", "));
  };
  TIDE_CHECK(fits,
             "{}: the graph's input '{}' is {}; the data's samples are {} (with the batch: "
             "[batch, {}])",
             model.source(), model.input_name(), shown(dims), inputs.sample.str(),
             fmt::join(sample, ", "));
  auto net = std::make_shared<OnnxNetwork>(model, inputs.seed);
  // Batches of 1 and 2 (zeros, in evaluation): the output's shape per sample, and that the
  // first dimension is the batch (a graph exported with a fixed batch size is refused here, not
  // at its first training step).
  auto probe = [&](int64_t batch) {
    std::vector<int64_t> dims = {batch};
    dims.insert(dims.end(), sample.begin(), sample.end());
    const Shape shape(dims);
    TIDE_CHECK(shape.numel() <= (int64_t{1} << 30),
               "{}: a sample of {} holds more than 2^30 values", model.source(),
               inputs.sample.str());
    NoGradGuard no_grad;
    net->eval();
    const Shape out = net->forward(Variable(Tensor::zeros(shape))).shape();
    net->train();
    TIDE_CHECK(out.ndim() >= 1 && out[0] == batch,
               "{}: for a batch of {} the graph gives {}; its first dimension must be the batch{}",
               model.source(), batch, out.str(),
               batch == 1 ? ""
                          : " (was it exported without dynamic_axes={'input': {0: 'batch'}, ...}, "
                            "for one batch size only?)");
    return out;
  };
  const Shape out = probe(1);
  Shape two;
  try {
    two = probe(2);
  } catch (const Error& e) {
    TIDE_FAIL(
        "{} (for a batch of 2: a graph exported without dynamic_axes={{'input': {{0: "
        "'batch'}}}} takes only the batch size it was exported with)",
        e.what());
  }
  TIDE_CHECK(std::equal(out.dims().begin() + 1, out.dims().end(), two.dims().begin() + 1,
                        two.dims().end()),
             "{}: a batch of 1 gives {} and a batch of 2 gives {}: the samples must not change "
             "each other's shape",
             model.source(), out.str(), two.str());
  std::vector<int64_t> per_sample(out.dims().begin() + 1, out.dims().end());

  // The summary: each node with a floating-point output, its output shape and the parameters
  // it reads first.
  std::map<std::string, int64_t> sizes;
  for (const auto& [name, v] : net->named_parameters()) sizes[name] = v.numel();
  std::set<std::string> counted;
  std::vector<std::array<std::string, 4>> rows;
  size_t width[3] = {4, 2, 12};
  for (size_t k = 0; k < net->steps().size(); ++k) {
    const OnnxNetwork::Step& s = net->steps()[k];
    if (!net->output_shapes()[k]) continue;  // integer values: shapes, indices
    int64_t params = 0;
    for (const std::string& i : s.reads)
      if (sizes.contains(i) && counted.insert(i).second) params += sizes[i];
    std::vector<int64_t> d = net->output_shapes()[k]->dims();
    if (!d.empty()) d.erase(d.begin());
    rows.push_back({s.name, s.op, Shape(d).str(), params ? std::to_string(params) : ""});
    for (int i = 0; i < 3; ++i) width[i] = std::max(width[i], rows.back()[i].size());
  }
  std::string summary =
      fmt::format("{}: ONNX opset {}{}\n{:<{}}  {:<{}}  {:<{}}  {:>12}\n", model.source(),
                  model.opset(), model.producer().empty() ? "" : ", from " + model.producer(),
                  "Node", width[0], "Op", width[1], "Output shape", width[2], "Parameters");
  for (const auto& r : rows)
    summary += fmt::format("{:<{}}  {:<{}}  {:<{}}  {:>12}\n", r[0], width[0], r[1], width[1], r[2],
                           width[2], r[3]);
  summary += fmt::format("Total parameters: {}\n", net->num_parameters());
  return Network{.module = net, .output_shape = Shape(per_sample), .summary = summary};
}

}  // namespace tide
