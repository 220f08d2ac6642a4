// ONNX's own node tests (Debian's libonnx-testdata) through the importer: every test whose
// graph uses only op types of op_kinds() is rewritten into a graph Tide takes (input 0 stays
// the input, the other inputs become initializers holding their test values, as PyTorch's
// exports carry shapes, indices and weights; one graph output at a time), parsed, built,
// run forward and compared with the test's outputs. What Tide refuses is listed below with
// the reason; the test prints what it ran, passed, refused and skipped.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "tide/autograd/ops.hpp"
#include "tide/onnx/graph.hpp"
#include "tide/onnx/onnx_network.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;
using onnx::TensorProto;

const char* const kNodeTests = "/usr/share/libonnx-testdata/data/node";

// A refusal Tide is expected to give: the node test (a * matches any run of characters), the
// output kept ("" for every output), a part of the error's message, and why Tide refuses.
struct Refusal {
  std::string_view test, output, message, reason;
};

const std::vector<Refusal> kRefusals = {
    {"test_constant", "", "0 inputs besides its initializers",
     "the graph has no input; Tide's graphs take one"},
    {"test_globalaveragepool*", "", "opset 1; Tide reads opsets 7 to 17",
     "ONNX's GlobalAveragePool tests are opset 1"},
    {"test_cast_FLOAT_to_STRING", "", "attribute to = 8", "Tide has no strings"},
    {"test_cast_STRING_to_FLOAT", "", "(STRING) is not one Tide reads", "Tide has no strings"},
    {"test_castlike_FLOAT_to_STRING_expanded", "", "(STRING) is not one Tide reads",
     "Tide has no strings"},
    {"test_castlike_STRING_to_FLOAT_expanded", "", "(STRING) is not one Tide reads",
     "Tide has no strings"},
    {"test_batchnorm_*_training_mode", "output_mean", "Tide does not compute it",
     "Tide's batch norm updates its running statistics in place, it gives no outputs of them"},
    {"test_batchnorm_*_training_mode", "output_var", "Tide does not compute it",
     "Tide's batch norm updates its running statistics in place, it gives no outputs of them"},
    {"test_layer_normalization_*", "Mean", "Tide does not compute it",
     "Tide's layer norm gives no mean"},
    {"test_layer_normalization_*", "InvStdDev", "Tide does not compute it",
     "Tide's layer norm gives no inverse standard deviation"},
    {"test_dropout_default_mask*", "z", "Tide does not compute it", "Tide's Dropout gives no mask"},
    {"test_training_dropout_zero_ratio_mask", "z", "Tide does not compute it",
     "Tide's Dropout gives no mask"},
    {"test_gather_2d_indices", "", "indices of rank 0 or 1",
     "Tide gathers with a matrix of indices along axis 0 only (an embedding)"},
    {"test_averagepool_2d_pads*", "", "padding must be at most half the kernel",
     "Tide's pooling pads at most half the kernel, as PyTorch's"},
    {"test_maxpool_2d_pads", "", "padding must be at most half the kernel",
     "Tide's pooling pads at most half the kernel, as PyTorch's"},
    {"test_*pool_2d_same_lower", "", "alike on both sides",
     "Tide's pooling pads alike on both sides; SAME pads one more on one side"},
    {"test_*pool_2d_same_upper", "", "alike on both sides",
     "Tide's pooling pads alike on both sides; SAME pads one more on one side"},
    {"test_maxpool_with_argmax_2d_precomputed_strides", "", "storage_order = 1",
     "Tide's pooling is row-major"},
    {"test_erf", "", "Erf only inside GELU", "Tide runs Erf only as part of GELU"},
    {"test_maxpool_2d_uint8", "", "must be floating point, got integers", "Tide pools floats only"},
    {"test_maxpool_with_argmax_2d_precomputed_*", "z", "Tide does not compute it",
     "Tide's MaxPool gives no indices"},
    {"test_maxpool_3d_default", "", "1-D and 2-D windows", "Tide pools 1-D and 2-D windows"},
    {"test_averagepool_3d_default", "", "1-D and 2-D windows", "Tide pools 1-D and 2-D windows"},
    {"test_reshape_allowzero_reordered", "", "allowzero = 1", "Tide's Reshape copies a 0"},
    {"test_slice_neg_steps", "", "step 1 only", "Tide slices with step 1"},
    {"test_lstm_with_peepholes", "", "peepholes", "Tide's LSTM has no peepholes"},
    {"test_pow", "", "constant scalar exponent", "Tide's Pow takes a scalar exponent"},
    {"test_pow_bcast_array", "", "constant scalar exponent", "Tide's Pow takes a scalar exponent"},
    {"test_pow_example", "", "constant scalar exponent", "Tide's Pow takes a scalar exponent"},
    {"test_pow_types_float", "", "constant scalar exponent", "Tide's Pow takes a scalar exponent"},
    {"test_pow_types_int", "", "constant scalar exponent", "Tide's Pow takes a scalar exponent"},
    {"test_pow_types_float32_int32", "", "constant scalar exponent",
     "Tide's Pow takes a scalar exponent"},
    {"test_pow_types_float32_int64", "", "constant scalar exponent",
     "Tide's Pow takes a scalar exponent"},
    {"test_pow_types_float32_uint32", "", "constant scalar exponent",
     "Tide's Pow takes a scalar exponent"},
    {"test_pow_types_float32_uint64", "", "constant scalar exponent",
     "Tide's Pow takes a scalar exponent"},
    {"test_pow_types_int32_float32", "", "constant scalar exponent",
     "Tide's Pow takes a scalar exponent"},
    {"test_pow_types_int32_int32", "", "constant scalar exponent",
     "Tide's Pow takes a scalar exponent"},
    {"test_pow_types_int64_float32", "", "constant scalar exponent",
     "Tide's Pow takes a scalar exponent"},
    {"test_pow_types_int64_int64", "", "constant scalar exponent",
     "Tide's Pow takes a scalar exponent"},
};

// Node tests not run, with why.
const std::map<std::string_view, std::string_view> kSkipped = {
    {"test_training_dropout", "training-mode dropout: its random mask cannot match Tide's"},
    {"test_training_dropout_default", "training-mode dropout: its random mask cannot match Tide's"},
    {"test_training_dropout_default_mask",
     "training-mode dropout: its random mask cannot match Tide's"},
    {"test_training_dropout_mask", "training-mode dropout: its random mask cannot match Tide's"},
    {"test_identity_opt", "its input is an optional, not a tensor"},
    {"test_identity_sequence", "its input is a sequence, not a tensor"},
};

// The op types of op_kinds() that no node test passes, with why.
const std::map<std::string_view, std::string_view> kNoPassingTest = {
    {"GlobalAveragePool", "its node tests are opset 1; Tide reads opsets 7 to 17"},
    {"Erf", "Tide runs Erf only inside GELU; the node test has a bare Erf"},
};

// At least this many runs (a node test with one output kept) pass.
constexpr int kMinPassed = 200;

bool is_float_type(int32_t t) {
  return t == TensorProto::FLOAT || t == TensorProto::DOUBLE || t == TensorProto::FLOAT16 ||
         t == TensorProto::BFLOAT16;
}

// The TensorProto at `path`, of the type `declared` of its graph input or output: ONNX 1.12
// writes bfloat16 test data as uint16 (numpy has no bfloat16), the same bits.
TensorProto read_tensor(const fs::path& path, int32_t declared) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  TensorProto t;
  TIDE_CHECK(in && t.ParseFromString(bytes.str()), "{}: not a TensorProto", path.string());
  if (declared == TensorProto::BFLOAT16 && t.data_type() == TensorProto::UINT16)
    t.set_data_type(TensorProto::BFLOAT16);
  return t;
}

onnx::ModelProto read_model(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  onnx::ModelProto m;
  TIDE_CHECK(in && m.ParseFromString(bytes.str()), "{}: not a ModelProto", path.string());
  return m;
}

// The node test's model as Tide takes it: graph input 0 stays the input, the others become
// initializers holding test_data_set_0's values, and only graph output `kept` stays; an
// integer output is cast to float (Tide's graphs end in floats) and compared exactly.
onnx::ModelProto rewritten(const onnx::ModelProto& original, const fs::path& data, int kept) {
  onnx::ModelProto m = original;
  onnx::GraphProto* g = m.mutable_graph();
  const std::vector<onnx::ValueInfoProto> inputs(g->input().begin(), g->input().end());
  g->clear_input();
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (k == 0) {
      *g->add_input() = inputs[0];
      continue;
    }
    TensorProto t = read_tensor(data / fmt::format("input_{}.pb", k),
                                inputs[k].type().tensor_type().elem_type());
    t.set_name(inputs[k].name());
    *g->add_initializer() = std::move(t);
  }
  onnx::ValueInfoProto out = g->output(kept);
  g->clear_output();
  if (!is_float_type(out.type().tensor_type().elem_type())) {
    onnx::NodeProto* cast = g->add_node();
    cast->set_name("node_test/cast_to_float");
    cast->set_op_type("Cast");
    cast->add_input(out.name());
    cast->add_output(out.name() + "/as_float");
    onnx::AttributeProto* to = cast->add_attribute();
    to->set_name("to");
    to->set_type(onnx::AttributeProto::INT);
    to->set_i(TensorProto::FLOAT);
    out.set_name(out.name() + "/as_float");
    out.mutable_type()->mutable_tensor_type()->set_elem_type(TensorProto::FLOAT);
  }
  *g->add_output() = out;
  return m;
}

// "" when `got` matches `want` (of ONNX type `type`: floats within a tolerance of the type's
// precision, integers and bools exactly), else what differs.
std::string mismatch(const Tensor& got, const Tensor& want, int32_t type) {
  if (got.shape() != want.shape())
    return fmt::format("shape {}, expected {}", got.shape().str(), want.shape().str());
  const double tolerance = type == TensorProto::FLOAT16    ? 1e-3
                           : type == TensorProto::BFLOAT16 ? 1e-2
                           : is_float_type(type)           ? 1e-4
                                                           : 0.0;
  const std::vector<double> a = got.to_vector(), b = want.to_vector();
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(b[i]) && std::isnan(a[i])) continue;
    if (a[i] == b[i]) continue;  // equal infinities too
    if (std::isfinite(b[i]) && std::fabs(a[i] - b[i]) <= tolerance * (1 + std::fabs(b[i])))
      continue;
    return fmt::format("element {} is {}, expected {}", i, a[i], b[i]);
  }
  return "";
}

std::set<std::string> supported_ops() {
  std::set<std::string> s;
  for (const OpKind& k : op_kinds()) s.insert(std::string(k.type));
  return s;
}

// A batch norm in training mode normalises with the batch's statistics: the graph runs as
// Tide trains it.
bool runs_in_training(const onnx::GraphProto& g) {
  for (const onnx::NodeProto& n : g.node())
    for (const onnx::AttributeProto& a : n.attribute())
      if (n.op_type() == "BatchNormalization" && a.name() == "training_mode" && a.i() != 0)
        return true;
  return false;
}

// Where a run ended.
struct NodeRun {
  std::string name;  // "test_add", or "test_split_equal_parts_1d:output_2" for one of several
  std::string test, output;
  std::vector<std::string> ops;
  enum { passed, refused, failed } outcome = failed;
  std::string stage;          // data, parse, build, run, compare
  std::string message;        // the error or the mismatch
  std::string probe_refusal;  // build_network's batch-of-1 probe refused the graph
  const Refusal* expected = nullptr;
};

// Whether `test` matches `pattern`, where a * matches any run of characters.
bool matches(std::string_view pattern, std::string_view test) {
  const size_t star = pattern.find('*');
  if (star == std::string_view::npos) return pattern == test;
  const std::string_view head = pattern.substr(0, star);
  if (!test.starts_with(head)) return false;
  const std::string_view rest = pattern.substr(star + 1);
  for (size_t i = head.size(); i <= test.size(); ++i)
    if (matches(rest, test.substr(i))) return true;
  return false;
}

bool matches(const Refusal& r, const std::string& test, const std::string& output) {
  return matches(r.test, test) && (r.output.empty() || r.output == output);
}

// The listed refusal of `test` and `output` whose message `message` holds, else nullptr.
const Refusal* expected_refusal(const std::string& test, const std::string& output,
                                const std::string& message) {
  for (const Refusal& r : kRefusals)
    if (matches(r, test, output) && message.find(r.message) != std::string::npos) return &r;
  return nullptr;
}

// Why build_network's probes (forwards of batches of 1 and 2) may refuse the graph: its first
// dimension is not a batch. Checked both ways: the graph on the first sample alone does not
// give the first sample of the expected output, or on the input twice over (concatenated
// along the first dimension) it does not give the expected output twice over. Each check
// throwing counts as a difference.
bool batch_dependent(Module& net, const Tensor& input, const Tensor& want) {
  if (input.ndim() == 0 || input.shape()[0] < 1 || want.ndim() == 0 || want.shape()[0] < 1)
    return true;
  auto differs = [&](const Tensor& in, const Tensor& expected) {
    try {
      return !mismatch(net.forward(Variable(in)).value(), expected, TensorProto::FLOAT).empty();
    } catch (const Error&) {
      return true;
    }
  };
  const Tensor first = slice(Variable(input), 0, 0, 1).value();
  const Tensor first_wanted = slice(Variable(want), 0, 0, 1).value();
  const Tensor twice = concat({Variable(input), Variable(input)}, 0).value();
  const Tensor twice_wanted = concat({Variable(want), Variable(want)}, 0).value();
  return differs(first, first_wanted) || differs(twice, twice_wanted);
}

// Parses, builds and runs the rewritten model of node test `dir` with output `kept`.
NodeRun run_one(const fs::path& dir, const onnx::ModelProto& original, int kept) {
  NodeRun r;
  r.test = dir.filename().string();
  r.output = original.graph().output(kept).name();
  r.name = original.graph().output_size() == 1 ? r.test : r.test + ":" + r.output;
  for (const onnx::NodeProto& n : original.graph().node()) r.ops.push_back(n.op_type());
  const fs::path data = dir / "test_data_set_0";
  r.stage = "data";
  try {
    const onnx::ModelProto m = rewritten(original, data, kept);
    r.stage = "parse";
    const OnnxModel model = OnnxModel::parse(m.SerializeAsString(), r.test + "/model.onnx");
    const onnx::GraphProto& g = original.graph();
    r.stage = "data";
    const Tensor input =
        g.input_size() > 0
            ? tensor_from_proto(
                  read_tensor(data / "input_0.pb", g.input(0).type().tensor_type().elem_type()),
                  "input_0")
            : Tensor();
    r.stage = "build";
    auto direct = std::make_shared<OnnxNetwork>(model, 0);
    std::shared_ptr<Module> net = direct;
    std::vector<int64_t> sample = input.shape().dims();
    if (!sample.empty()) sample.erase(sample.begin());
    try {
      net = build_network(
                model,
                NetworkInputs{.sample = Shape(sample), .classes = 0, .arguments = {}, .seed = 0})
                .module;
    } catch (const Error& e) {
      // The graph is not batch-independent (a reduction over axis 0, a broadcast against a
      // full-size second input): its values are checked on the module build_network probes.
      r.probe_refusal = e.what();
    }
    r.stage = "run";
    net->train(runs_in_training(g));
    const Tensor got = net->forward(Variable(input)).value();
    r.stage = "data";
    const int32_t type = g.output(kept).type().tensor_type().elem_type();
    const Tensor want =
        tensor_from_proto(read_tensor(data / fmt::format("output_{}.pb", kept), type), "output");
    r.stage = "compare";
    r.message = mismatch(got, want, type);
    if (r.message.empty() && !r.probe_refusal.empty() && !batch_dependent(*net, input, want))
      r.message = "build_network's probe refused a graph whose first dimension is a batch";
    r.outcome = r.message.empty() ? NodeRun::passed : NodeRun::failed;
  } catch (const Error& e) {
    r.message = e.what();
    r.expected = expected_refusal(r.test, r.output, r.message);
    r.outcome = r.expected ? NodeRun::refused : NodeRun::failed;
  } catch (const std::exception& e) {
    r.message = fmt::format("not a tide::Error: {}", e.what());
  }
  return r;
}

// Every node test, run or not.
struct Survey {
  size_t tests = 0;
  std::vector<NodeRun> runs;
  std::map<std::string, std::vector<std::string>> unsupported;  // op -> node tests
  std::set<std::string> unsupported_tests;
  std::map<std::string, std::string> skipped;  // node test -> why
};

Survey run_node_tests() {
  const std::set<std::string> supported = supported_ops();
  std::vector<fs::path> dirs;
  for (const fs::directory_entry& e : fs::directory_iterator(kNodeTests))
    if (e.is_directory()) dirs.push_back(e.path());
  std::ranges::sort(dirs);
  Survey s;
  s.tests = dirs.size();
  for (const fs::path& dir : dirs) {
    const std::string test = dir.filename().string();
    const onnx::ModelProto m = read_model(dir / "model.onnx");
    std::set<std::string> missing;
    for (const onnx::NodeProto& n : m.graph().node())
      if (!supported.contains(n.op_type())) missing.insert(n.op_type());
    for (const std::string& op : missing) s.unsupported[op].push_back(test);
    if (!missing.empty()) {
      s.unsupported_tests.insert(test);
    } else if (const auto skip = kSkipped.find(test); skip != kSkipped.end()) {
      s.skipped.emplace(test, skip->second);
    } else {
      for (int k = 0; k < m.graph().output_size(); ++k) s.runs.push_back(run_one(dir, m, k));
    }
  }
  return s;
}

// Prints each run's outcome and checks it: a pass, or a listed refusal whose message names
// the node and its op.
void report_runs(const std::vector<NodeRun>& runs) {
  for (const NodeRun& r : runs) {
    switch (r.outcome) {
      case NodeRun::passed:
        fmt::print(
            "passed   {}{}\n", r.name,
            r.probe_refusal.empty()
                ? ""
                : fmt::format(" (not batch-independent, the probe refused: {})", r.probe_refusal));
        break;
      case NodeRun::refused:
        fmt::print("refused  {}: {} [{}]\n", r.name, r.expected->reason, r.message);
        break;
      case NodeRun::failed:
        fmt::print("FAILED   {} at {}: {}\n", r.name, r.stage, r.message);
        ADD_FAILURE() << r.name << " at " << r.stage << ": " << r.message;
    }
    if (r.outcome == NodeRun::refused && (r.stage == "build" || r.stage == "run")) {
      bool names_node = false;
      for (const std::string& op : r.ops)
        names_node =
            names_node || r.message.find(fmt::format("({}, opset", op)) != std::string::npos;
      EXPECT_TRUE(names_node) << r.name << ": the message names no node: " << r.message;
    }
  }
}

TEST(OnnxNodeTests, SupportedOpsPassOrAreRefusedWithAReason) {
  if (!fs::is_directory(kNodeTests)) GTEST_SKIP() << "libonnx-testdata is not installed";
  const Survey s = run_node_tests();
  fmt::print("ONNX node tests ({}): {} of {} use only ops Tide runs\n", kNodeTests,
             s.tests - s.unsupported_tests.size(), s.tests);
  report_runs(s.runs);
  for (const auto& [test, why] : s.skipped) fmt::print("skipped  {}: {}\n", test, why);
  for (const auto& [op, tests] : s.unsupported)
    fmt::print("unsupported op {} ({} node tests): {}\n", op, tests.size(), fmt::join(tests, " "));

  int passed = 0, refused = 0, probed = 0;
  std::map<std::string, int> passes_of;  // op -> passing runs
  std::set<std::string> run_tests;
  for (const NodeRun& r : s.runs) {
    run_tests.insert(r.test);
    passed += r.outcome == NodeRun::passed;
    refused += r.outcome == NodeRun::refused;
    probed += r.outcome == NodeRun::passed && !r.probe_refusal.empty();
    if (r.outcome == NodeRun::passed)
      for (const std::string& op : std::set<std::string>(r.ops.begin(), r.ops.end()))
        ++passes_of[op];
  }
  std::vector<std::string> covered;
  for (const auto& [op, n] : passes_of) covered.push_back(fmt::format("{} ({})", op, n));
  fmt::print("passing runs by op: {}\n", fmt::join(covered, ", "));
  fmt::print(
      "{} node tests run as {} runs (one per output): {} passed ({} of them not "
      "batch-independent), {} refused, {} failed; {} node tests skipped; {} use an op Tide does "
      "not run\n",
      run_tests.size(), s.runs.size(), passed, probed, refused, s.runs.size() - passed - refused,
      s.skipped.size(), s.unsupported_tests.size());

  // The lists say only what happens.
  for (const Refusal& r : kRefusals)
    EXPECT_TRUE(std::ranges::any_of(s.runs, [&](const NodeRun& run) { return run.expected == &r; }))
        << r.test << " is listed as refused (" << r.reason << ") but was not";
  for (const auto& [test, why] : kSkipped)
    EXPECT_TRUE(s.skipped.contains(std::string(test)))
        << test << " is listed as skipped but is not a node test of supported ops";
  std::map<std::string_view, std::string_view> none;
  for (const OpKind& k : op_kinds())
    if (!passes_of.contains(std::string(k.type)))
      none.emplace(k.type, kNoPassingTest.contains(k.type) ? kNoPassingTest.at(k.type) : "?");
  for (const auto& [op, why] : none) fmt::print("no node test passes {}: {}\n", op, why);
  EXPECT_EQ(none, kNoPassingTest);
  EXPECT_GE(passed, kMinPassed);
}

}  // namespace
}  // namespace tide
