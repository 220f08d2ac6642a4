// Reading an ONNX model and checking its graph before anything is built from it.
#include <algorithm>
#include <filesystem>
#include <set>

#include <fmt/ranges.h>

#include "tide/core/error.hpp"
#include "tide/core/read_file.hpp"
#include "tide/onnx/proto.hpp"

namespace tide {
namespace {

bool default_domain(const std::string& domain) {
  return domain.empty() || domain == "ai.onnx";
}

// Orders the nodes so that each comes after those it reads from (Kahn's algorithm), or
// throws naming a value nobody gives or the nodes of a cycle.
std::vector<const onnx::NodeProto*> order_nodes(const onnx::GraphProto& g,
                                                const std::set<std::string>& given,
                                                const std::string& source, int64_t opset) {
  const int n = g.node_size();
  std::map<std::string, int> producer;
  for (int i = 0; i < n; ++i)
    for (const std::string& out : g.node(i).output()) {
      if (out.empty()) continue;
      TIDE_CHECK(!given.contains(out) && !producer.contains(out),
                 "{}: {} writes '{}', which {} already gives", source,
                 node_label(g.node(i), i, opset), out,
                 given.contains(out) ? "an input or initializer"
                                     : node_label(g.node(producer[out]), producer[out], opset));
      producer[out] = i;
    }
  std::vector<int> waiting(n, 0);
  std::vector<std::vector<int>> readers(n);
  for (int i = 0; i < n; ++i) {
    std::set<int> from;
    for (const std::string& in : g.node(i).input()) {
      if (in.empty() || given.contains(in)) continue;
      const auto it = producer.find(in);
      TIDE_CHECK(it != producer.end(),
                 "{}: {} reads '{}', which no node, initializer or graph input gives", source,
                 node_label(g.node(i), i, opset), in);
      from.insert(it->second);
    }
    waiting[i] = static_cast<int>(from.size());
    for (const int p : from) readers[p].push_back(i);
  }
  std::vector<const onnx::NodeProto*> order;
  std::vector<int> ready;
  for (int i = n - 1; i >= 0; --i)
    if (waiting[i] == 0) ready.push_back(i);
  while (!ready.empty()) {
    const int i = ready.back();
    ready.pop_back();
    order.push_back(&g.node(i));
    for (auto r = readers[i].rbegin(); r != readers[i].rend(); ++r)
      if (--waiting[*r] == 0) ready.push_back(*r);
  }
  if (static_cast<int>(order.size()) < n) {
    std::vector<std::string> stuck;
    for (int i = 0; i < n && stuck.size() < 4; ++i)
      if (waiting[i] > 0) stuck.push_back(node_label(g.node(i), i, opset));
    TIDE_FAIL("{}: the graph has a cycle: {} node(s) wait on each other, among them {}", source,
              n - static_cast<int64_t>(order.size()), fmt::join(stuck, ", "));
  }
  return order;
}

}  // namespace

std::string node_label(const onnx::NodeProto& node, int index, int64_t opset) {
  const std::string op = node.op_type().empty() ? "no op type" : node.op_type();
  if (node.name().empty()) return fmt::format("node #{} ({}, opset {})", index, op, opset);
  return fmt::format("node '{}' ({}, opset {})", node.name(), op, opset);
}

bool is_onnx_path(const std::string& path) {
  return std::filesystem::path(path).extension() == ".onnx";
}

OnnxModel OnnxModel::read(const std::string& path) {
  return parse(read_file_bytes(path, uint64_t{2} << 30, "an ONNX model"), path);
}

OnnxModel OnnxModel::parse(std::string_view bytes, std::string source) {
  auto p = std::make_shared<Proto>();
  TIDE_CHECK(bytes.size() < (uint64_t{2} << 30), "{}: larger than 2 GiB, protobuf's limit", source);
  TIDE_CHECK(p->model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())),
             "{}: not an ONNX model: its {} bytes do not parse as an onnx.ModelProto (a "
             "truncated or damaged file, or another format)",
             source, bytes.size());
  const onnx::ModelProto& m = p->model;
  TIDE_CHECK(m.has_graph() && m.ir_version() >= 3, "{}: not an ONNX model: {}", source,
             m.has_graph() ? fmt::format("IR version {}; ONNX files have 3 or more", m.ir_version())
                           : std::string("it has no graph"));
  int64_t opset = -1;
  for (const onnx::OperatorSetIdProto& o : m.opset_import())
    if (default_domain(o.domain())) opset = o.version();
  TIDE_CHECK(opset >= 0, "{}: it imports no opset of ONNX's default domain", source);
  TIDE_CHECK(opset >= kOnnxMinOpset && opset <= kOnnxMaxOpset,
             "{}: opset {}; Tide reads opsets {} to {} (torch.onnx.export(..., opset_version=17) "
             "writes one)",
             source, opset, kOnnxMinOpset, kOnnxMaxOpset);
  p->opset = opset;
  const onnx::GraphProto& g = m.graph();
  TIDE_CHECK(g.sparse_initializer_size() == 0,
             "{}: it has sparse initializers, which Tide does not read", source);

  std::set<std::string> given;
  for (const onnx::TensorProto& t : g.initializer()) {
    TIDE_CHECK(!t.name().empty(), "{}: an initializer has no name", source);
    TIDE_CHECK(p->initializers.emplace(t.name(), &t).second, "{}: two initializers are named '{}'",
               source, t.name());
    given.insert(t.name());
  }
  std::vector<std::string> inputs;
  for (const onnx::ValueInfoProto& v : g.input())
    if (!p->initializers.contains(v.name())) inputs.push_back(v.name());
  TIDE_CHECK(inputs.size() == 1,
             "{}: the graph has {} inputs besides its initializers ({}); Tide trains graphs of "
             "one input",
             source, inputs.size(), fmt::join(inputs, ", "));
  for (const std::string& in : inputs) given.insert(in);
  for (int i = 0; i < g.node_size(); ++i) {
    const onnx::NodeProto& node = g.node(i);
    TIDE_CHECK(default_domain(node.domain()),
               "{}: {} is of domain '{}'; Tide runs ONNX's default domain only", source,
               node_label(node, i, opset), node.domain());
  }
  p->order = order_nodes(g, given, source, opset);

  std::set<std::string> produced = given;
  for (const onnx::NodeProto* node : p->order)
    for (const std::string& out : node->output()) produced.insert(out);
  TIDE_CHECK(g.output_size() == 1, "{}: the graph has {} outputs; Tide trains graphs of one",
             source, g.output_size());
  TIDE_CHECK(produced.contains(g.output(0).name()),
             "{}: the graph's output '{}' is given by no node", source, g.output(0).name());
  // Every initializer's data must match its shape: checked here, so a damaged file is refused
  // before anything is built.
  for (const auto& [name, t] : p->initializers)
    tensor_from_proto(*t, fmt::format("{}: initializer '{}'", source, name));

  OnnxModel out;
  out.source_ = std::move(source);
  out.proto_ = std::move(p);
  return out;
}

int64_t OnnxModel::opset() const {
  return proto_->opset;
}

const std::string& OnnxModel::input_name() const {
  for (const onnx::ValueInfoProto& v : proto_->model.graph().input())
    if (!proto_->initializers.contains(v.name())) return v.name();
  TIDE_FAIL("{}: no input", source_);  // parse() made sure there is one
}

std::vector<int64_t> OnnxModel::input_dims() const {
  for (const onnx::ValueInfoProto& v : proto_->model.graph().input()) {
    if (v.name() != input_name()) continue;
    std::vector<int64_t> dims;
    if (!v.type().has_tensor_type() || !v.type().tensor_type().has_shape()) return dims;
    for (const auto& d : v.type().tensor_type().shape().dim())
      dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
    return dims;
  }
  return {};
}

const std::string& OnnxModel::output_name() const {
  return proto_->model.graph().output(0).name();
}

std::string OnnxModel::producer() const {
  const onnx::ModelProto& m = proto_->model;
  if (m.producer_name().empty()) return "";
  return m.producer_version().empty() ? m.producer_name()
                                      : m.producer_name() + " " + m.producer_version();
}

std::string OnnxModel::bytes() const {
  return proto_->model.SerializeAsString();
}

}  // namespace tide
