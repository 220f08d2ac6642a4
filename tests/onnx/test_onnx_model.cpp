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
  const Network net = build_network(ModelFile::parse(R"([[layers]]
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
                                    NetworkInputs{.sample = kImage, .classes = 10}, rng);
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromString(onnx_bytes(*net.module, kImage)));
  return m;
}

// The error of parsing and building `m`, or "no error".
std::string error_building(const onnx::ModelProto& m) {
  return error_of([&] {
    build_network(OnnxModel::parse(m.SerializeAsString(), "bad.onnx"),
                  NetworkInputs{.sample = kImage});
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
                    NetworkInputs{.sample = kImage});
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

TEST(OnnxModel, SampleShapeNotTheGraphs) {
  const onnx::ModelProto m = valid_model();
  EXPECT_THAT(error_of([&] {
                build_network(OnnxModel::parse(m.SerializeAsString(), "net.onnx"),
                              NetworkInputs{.sample = Shape({784})});
              }),
              HasSubstr("net.onnx: the graph's input 'input' is [batch, 1, 28, 28]; the data's "
                        "samples are [784]"));
}

TEST(OnnxModel, GruRunsBothFormulasOfTheCandidate) {
  // Tide's own export of a GRU (linear_before_reset = 1, PyTorch's), and the same graph with
  // ONNX's default 0: both run, and the reset applied before the product gives another
  // output (ONNX's node tests check its values).
  RngStream rng(1, RngPurpose::init);
  const Network net = build_network(ModelFile::parse(R"([[layers]]
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
                                    NetworkInputs{.sample = kImage, .classes = 10}, rng);
  onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(onnx_bytes(*net.module, kImage)));
  auto output = [&](const onnx::ModelProto& model) {
    const Network n = build_network(OnnxModel::parse(model.SerializeAsString(), "gru.onnx"),
                                    NetworkInputs{.sample = kImage});
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
