// Malformed ONNX files: each is refused with one error naming the file and what is wrong
// (the node, its op type and opset, the attribute or value), before anything is built.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "onnx.pb.h"
#include "support/testing.hpp"
#include "tide/models/model_file.hpp"
#include "tide/onnx/onnx.hpp"

namespace tide {
namespace {

using ::testing::AllOf;
using testing::error_of;
using ::testing::HasSubstr;

const Shape kImage{1, 28, 28};

// A small network written by Tide's exporter, as a message to damage.
onnx::ModelProto valid_model() {
  RngStream rng(1, RngPurpose::init);
  const Network net = build_network(
      ModelFile::parse(R"([[layers]]
type = "flatten"
[[layers]]
type = "linear"
units = 8
[[layers]]
type = "relu"
[[layers]]
type = "linear"
units = "$classes"
)",
                       "test model"),
      NetworkInputs{.sample = kImage, .classes = 10, .arguments = {}, .seed = 0}, rng);
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromString(onnx_bytes(*net.module, kImage)));
  return m;
}

// The error of parsing and building `m`, or "no error".
std::string error_building(const onnx::ModelProto& m) {
  return error_of([&] {
    build_network(OnnxModel::parse(m.SerializeAsString(), "bad.onnx"),
                  NetworkInputs{.sample = kImage, .classes = 0, .arguments = {}, .seed = 0});
  });
}

onnx::NodeProto* find_node(onnx::ModelProto& m, const std::string& op) {
  for (onnx::NodeProto& n : *m.mutable_graph()->mutable_node())
    if (n.op_type() == op) return &n;
  ADD_FAILURE() << "no " << op << " node";
  return nullptr;
}

TEST(OnnxModel, TheValidModelBuilds) {
  EXPECT_EQ(error_building(valid_model()), "no error");
}

TEST(OnnxModel, TruncatedFile) {
  const std::string bytes = valid_model().SerializeAsString();
  for (const size_t keep : {size_t{0}, size_t{3}, bytes.size() / 2, bytes.size() - 1}) {
    const std::string e = error_of([&] {
      build_network(OnnxModel::parse(bytes.substr(0, keep), "cut.onnx"),
                    NetworkInputs{.sample = kImage, .classes = 0, .arguments = {}, .seed = 0});
    });
    EXPECT_THAT(e, HasSubstr("cut.onnx")) << keep;
    EXPECT_THAT(e, ::testing::Not(HasSubstr("\n"))) << keep;
  }
  EXPECT_THAT(error_of([&] { OnnxModel::parse(bytes.substr(0, bytes.size() / 2), "cut.onnx"); }),
              HasSubstr("do not parse as an onnx.ModelProto"));
}

TEST(OnnxModel, UnknownOp) {
  onnx::ModelProto m = valid_model();
  find_node(m, "Relu")->set_op_type("Swish");
  EXPECT_THAT(error_building(m),
              AllOf(HasSubstr("bad.onnx: node '"), HasSubstr("(Swish, opset 17)"),
                    HasSubstr("Tide does not run the op Swish; it runs"), HasSubstr("Gemm")));
}

TEST(OnnxModel, MissingInitializer) {
  onnx::ModelProto m = valid_model();
  auto* inits = m.mutable_graph()->mutable_initializer();
  for (int i = 0; i < inits->size(); ++i)
    if (inits->Get(i).name() == "1.weight") inits->DeleteSubrange(i, 1);
  EXPECT_THAT(error_building(m),
              AllOf(HasSubstr("(Gemm, opset 17) reads '1.weight', which no node, initializer or "
                              "graph input gives")));
}

TEST(OnnxModel, Cycle) {
  onnx::ModelProto m = valid_model();
  onnx::NodeProto* gemm = find_node(m, "Gemm");
  onnx::NodeProto* relu = find_node(m, "Relu");
  gemm->set_input(0, relu->output(0));  // the first Gemm now reads what comes after it
  EXPECT_THAT(error_building(m),
              AllOf(HasSubstr("bad.onnx: the graph has a cycle"), HasSubstr("(Gemm, opset 17)")));
}

TEST(OnnxModel, AttributeTideDoesNotRead) {
  onnx::ModelProto m = valid_model();
  onnx::AttributeProto* a = find_node(m, "Gemm")->add_attribute();
  a->set_name("fast_math");
  a->set_type(onnx::AttributeProto::INT);
  EXPECT_THAT(error_building(m),
              AllOf(HasSubstr("(Gemm, opset 17): attribute 'fast_math' is not one Tide reads for "
                              "Gemm (it reads alpha, beta, transA, transB)")));
}

TEST(OnnxModel, OpsetOutsideTheRange) {
  onnx::ModelProto m = valid_model();
  m.mutable_opset_import(0)->set_version(18);
  EXPECT_THAT(error_building(m), HasSubstr("bad.onnx: opset 18; Tide reads opsets 7 to 17"));
  m.mutable_opset_import(0)->set_domain("com.example");
  EXPECT_THAT(error_building(m), HasSubstr("imports no opset of ONNX's default domain"));
}

TEST(OnnxModel, NodeOfAnotherDomain) {
  onnx::ModelProto m = valid_model();
  find_node(m, "Relu")->set_domain("com.microsoft");
  EXPECT_THAT(error_building(m), HasSubstr("(Relu, opset 17) is of domain 'com.microsoft'"));
}

TEST(OnnxModel, InitializerWhoseDataDoesNotMatchItsShape) {
  onnx::ModelProto m = valid_model();
  for (onnx::TensorProto& t : *m.mutable_graph()->mutable_initializer())
    if (t.name() == "1.weight") t.mutable_raw_data()->resize(100);
  EXPECT_THAT(error_building(m),
              HasSubstr("initializer '1.weight': its dimensions [8, 784] hold 6272 float values, "
                        "but it has 100 bytes of raw data"));
  m = valid_model();
  for (onnx::TensorProto& t : *m.mutable_graph()->mutable_initializer())
    if (t.name() == "1.weight") t.set_data_location(onnx::TensorProto::EXTERNAL);
  EXPECT_THAT(error_building(m), HasSubstr("stored outside the file (external data)"));
  m = valid_model();
  for (onnx::TensorProto& t : *m.mutable_graph()->mutable_initializer())
    if (t.name() == "1.weight") t.set_dims(0, int64_t{1} << 50);
  EXPECT_THAT(error_building(m), HasSubstr("dimension 1125899906842624 is not a size"));
}

TEST(OnnxModel, GraphInputsAndOutputs) {
  onnx::ModelProto m = valid_model();
  *m.mutable_graph()->add_input() = m.graph().input(0);
  m.mutable_graph()->mutable_input(1)->set_name("mask");
  EXPECT_THAT(error_building(m),
              HasSubstr("the graph has 2 inputs besides its initializers (input, mask)"));
  m = valid_model();
  m.mutable_graph()->mutable_output(0)->set_name("nowhere");
  EXPECT_THAT(error_building(m), HasSubstr("the graph's output 'nowhere' is given by no node"));
}

TEST(OnnxModel, SizesFromTheGraphAreCheckedBeforeAllocating) {
  // input + ConstantOfShape([2^25, 2^25]): 2^50 values asked for by eight bytes of the file.
  onnx::ModelProto m = valid_model();
  onnx::GraphProto* g = m.mutable_graph();
  onnx::TensorProto* shape = g->add_initializer();
  shape->set_name("huge");
  shape->set_data_type(onnx::TensorProto::INT64);
  shape->add_dims(2);
  shape->add_int64_data(int64_t{1} << 25);
  shape->add_int64_data(int64_t{1} << 25);
  onnx::NodeProto* fill = g->add_node();
  fill->set_op_type("ConstantOfShape");
  fill->set_name("fill");
  fill->add_input("huge");
  fill->add_output("filled");
  onnx::NodeProto* add = g->add_node();
  add->set_op_type("Add");
  add->set_name("plus");
  add->add_input(g->output(0).name());
  add->add_input("filled");
  add->add_output("sum");
  g->mutable_output(0)->set_name("sum");
  EXPECT_THAT(error_building(m),
              AllOf(HasSubstr("node 'fill' (ConstantOfShape, opset 17): its output "
                              "[33554432, 33554432] would hold 1125899906842624 values")));
}

// The network of `m` on `x` in evaluation.
std::vector<double> run(const onnx::ModelProto& m, const Tensor& x) {
  const Network n =
      build_network(OnnxModel::parse(m.SerializeAsString(), "run.onnx"),
                    NetworkInputs{.sample = Shape(std::vector<int64_t>(x.shape().dims().begin() + 1,
                                                                       x.shape().dims().end())),
                                  .classes = 0,
                                  .arguments = {},
                                  .seed = 0});
  n.module->eval();
  return (*n.module)(Variable(x)).value().to_vector();
}

onnx::AttributeProto* attribute(onnx::NodeProto* n, const std::string& name) {
  for (onnx::AttributeProto& a : *n->mutable_attribute())
    if (a.name() == name) return &a;
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  return a;
}

TEST(OnnxModel, GemmScalesTheProductNotTheBias) {
  // The last Gemm's alpha = 2, beta = 3: alpha * x W^T + beta * b, as ONNX defines it.
  onnx::ModelProto m = valid_model();
  const Tensor x = Tensor::full({2, 1, 28, 28}, 0.1);
  const std::vector<double> plain = run(m, x);
  onnx::NodeProto* gemm = nullptr;
  for (onnx::NodeProto& n : *m.mutable_graph()->mutable_node())
    if (n.op_type() == "Gemm") gemm = &n;
  ASSERT_NE(gemm, nullptr);
  std::vector<double> bias;
  for (const onnx::TensorProto& t : m.graph().initializer())
    if (t.name() == gemm->input(2)) {
      const float* v = reinterpret_cast<const float*>(t.raw_data().data());
      bias.assign(v, v + t.dims(0));
    }
  ASSERT_EQ(bias.size(), 10u);
  attribute(gemm, "alpha")->set_type(onnx::AttributeProto::FLOAT);
  attribute(gemm, "alpha")->set_f(2);
  attribute(gemm, "beta")->set_type(onnx::AttributeProto::FLOAT);
  attribute(gemm, "beta")->set_f(3);
  const std::vector<double> scaled = run(m, x);
  ASSERT_EQ(scaled.size(), plain.size());
  for (size_t i = 0; i < plain.size(); ++i) {
    const double b = bias[i % 10], product = plain[i] - b;
    EXPECT_NEAR(scaled[i], 2 * product + 3 * b, 1e-5) << i;
  }
}

TEST(OnnxModel, AttributesAnOpsetMadeInputsAreRefused) {
  // Squeeze's axes became an input in opset 13: as an attribute there it would be ignored.
  onnx::ModelProto m = valid_model();
  onnx::NodeProto* relu = find_node(m, "Relu");
  relu->set_op_type("Squeeze");
  onnx::AttributeProto* axes = attribute(relu, "axes");
  axes->set_type(onnx::AttributeProto::INTS);
  axes->add_ints(0);
  EXPECT_THAT(error_building(m), HasSubstr("(Squeeze, opset 17): attribute 'axes' is not an "
                                           "attribute from opset 13 on: it became an input"));
}

TEST(OnnxModel, AGraphOfOneBatchSizeIsRefusedWhenBuilt) {
  // Flatten written as Reshape to [1, 784], as an export without dynamic_axes bakes it.
  onnx::ModelProto m = valid_model();
  onnx::NodeProto* flatten = find_node(m, "Flatten");
  flatten->set_op_type("Reshape");
  flatten->clear_attribute();
  onnx::TensorProto* shape = m.mutable_graph()->add_initializer();
  shape->set_name("fixed");
  shape->set_data_type(onnx::TensorProto::INT64);
  shape->add_dims(2);
  shape->add_int64_data(1);
  shape->add_int64_data(784);
  flatten->add_input("fixed");
  EXPECT_THAT(error_building(m),
              AllOf(HasSubstr("bad.onnx: node '"), HasSubstr("(Reshape, opset 17): cannot reshape"),
                    HasSubstr("[2, 1, 28, 28] into [1, 784]")));
}

TEST(OnnxModel, IntegerArithmeticThatOverflowsIsRefused) {
  // input + (2^62 * 4) cast to float: the product overflows 64 bits.
  onnx::ModelProto m = valid_model();
  onnx::GraphProto* g = m.mutable_graph();
  for (const auto& [name, value] :
       {std::pair{"big", int64_t{1} << 62}, std::pair{"four", int64_t{4}}}) {
    onnx::TensorProto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_int64_data(value);
  }
  onnx::NodeProto* mul = g->add_node();
  mul->set_op_type("Mul");
  mul->set_name("times");
  mul->add_input("big");
  mul->add_input("four");
  mul->add_output("product");
  onnx::NodeProto* cast = g->add_node();
  cast->set_op_type("Cast");
  cast->set_name("cast");
  cast->add_input("product");
  cast->add_output("as_float");
  attribute(cast, "to")->set_type(onnx::AttributeProto::INT);
  attribute(cast, "to")->set_i(onnx::TensorProto::FLOAT);
  onnx::NodeProto* add = g->add_node();
  add->set_op_type("Add");
  add->set_name("plus");
  add->add_input(g->output(0).name());
  add->add_input("as_float");
  add->add_output("sum");
  g->mutable_output(0)->set_name("sum");
  EXPECT_THAT(error_building(m),
              HasSubstr("node 'times' (Mul, opset 17): integer arithmetic overflows 64 bits"));
}

TEST(OnnxModel, SampleShapeNotTheGraphs) {
  const onnx::ModelProto m = valid_model();
  EXPECT_THAT(
      error_of([&] {
        build_network(
            OnnxModel::parse(m.SerializeAsString(), "net.onnx"),
            NetworkInputs{.sample = Shape({784}), .classes = 0, .arguments = {}, .seed = 0});
      }),
      HasSubstr("net.onnx: the graph's input 'input' is [batch, 1, 28, 28]; the data's "
                "samples are [784]"));
}

TEST(OnnxModel, GruRunsBothFormulasOfTheCandidate) {
  // Tide's own export of a GRU (linear_before_reset = 1, PyTorch's), and the same graph with
  // ONNX's default 0: both run, and the reset applied before the product gives another
  // output (ONNX's node tests check its values).
  RngStream rng(1, RngPurpose::init);
  const Network net = build_network(
      ModelFile::parse(R"([[layers]]
type = "flatten"
start = 2
[[layers]]
type = "gru"
hidden = 4
output = "last_state"
[[layers]]
type = "linear"
units = "$classes"
)",
                       "gru model"),
      NetworkInputs{.sample = kImage, .classes = 10, .arguments = {}, .seed = 0}, rng);
  onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(onnx_bytes(*net.module, kImage)));
  auto output = [&](const onnx::ModelProto& model) {
    const Network n =
        build_network(OnnxModel::parse(model.SerializeAsString(), "gru.onnx"),
                      NetworkInputs{.sample = kImage, .classes = 0, .arguments = {}, .seed = 0});
    return (*n.module)(Variable(Tensor::full({2, 1, 28, 28}, 0.3))).value().to_vector();
  };
  const std::vector<double> pytorch = output(m);
  for (onnx::AttributeProto& a : *find_node(m, "GRU")->mutable_attribute())
    if (a.name() == "linear_before_reset") a.set_i(0);
  const std::vector<double> onnx_default = output(m);
  ASSERT_EQ(pytorch.size(), onnx_default.size());
  double diff = 0;
  for (size_t i = 0; i < pytorch.size(); ++i)
    diff = std::max(diff, std::abs(pytorch[i] - onnx_default[i]));
  EXPECT_GT(diff, 1e-4);
}

}  // namespace
}  // namespace tide
