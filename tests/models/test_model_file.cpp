// Model files: what a file builds (layers, names, shapes, the summary) and the one clear
// error each kind of malformed file gets.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tide/autograd/ops.hpp"
#include "tide/models/model_file.hpp"
#include "tide/models/zoo.hpp"
#include "tide/tensor/random.hpp"

namespace tide {
namespace {

using ::testing::HasSubstr;

Network build(const std::string& text, Shape sample = {1, 28, 28}, ModelArguments args = {}) {
  RngStream rng(1, RngPurpose::init);
  return build_network(
      ModelFile::parse(text, "net.toml"),
      NetworkInputs{
          .sample = std::move(sample), .classes = 10, .arguments = std::move(args), .seed = 0},
      rng);
}

std::vector<std::string> names(const Module& m) {
  std::vector<std::string> out;
  for (const auto& [name, p] : m.named_parameters()) out.push_back(name);
  return out;
}

// The message of the error building `text` throws; fails the test when it throws none.
std::string error_of(const std::string& text, Shape sample = {1, 28, 28}) {
  try {
    build(text, std::move(sample));
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for:\n" << text;
  return {};
}

const char* kResidual = R"(
[model]
name = "residual"

[blocks.residual]
arguments = { channels = 8 }
type = "add"
branches = [
  { type = "identity" },
  { type = "sequential", layers = [
    { type = "conv2d", channels = "$channels", kernel = 3, padding = "same" },
    { type = "relu" },
    { type = "conv2d", channels = "$channels", kernel = 3, padding = 1 },
  ] },
]

[[layers]]
name = "stem"
type = "conv2d"
channels = 8
kernel = 3
padding = 1

[[layers]]
block = "residual"

[[layers]]
type = "relu"

[[layers]]
type = "adaptive_avg_pool2d"
size = 1

[[layers]]
type = "flatten"

[[layers]]
name = "head"
type = "linear"
units = "$classes"
)";

TEST(ModelFile, AResidualNetworkBuildsWithPyTorchNamesShapesAndASummary) {
  const Network net = build(kResidual);
  EXPECT_EQ(names(*net.module),
            (std::vector<std::string>{"stem.weight", "stem.bias", "1.1.0.weight", "1.1.0.bias",
                                      "1.1.2.weight", "1.1.2.bias", "head.weight", "head.bias"}));
  EXPECT_EQ(net.output_shape, Shape({10}));
  EXPECT_THAT(net.summary, HasSubstr("residual: net.toml"));
  EXPECT_THAT(net.summary, HasSubstr("[8, 28, 28]"));
  EXPECT_THAT(net.summary, HasSubstr("    1.1.0 Conv2d"));
  EXPECT_THAT(net.summary,
              HasSubstr(fmt::format("Total parameters: {}", net.module->num_parameters())));
  // 8*1*9+8 + 2*(8*8*9+8) + 8*10+10
  EXPECT_EQ(net.module->num_parameters(), 80 + 2 * 584 + 90);

  // The residual adds its input: with the block's convolutions zeroed it is the identity.
  for (auto& [name, p] : net.module->named_parameters())
    if (name.starts_with("1.1.")) {
      Tensor t = p.value();
      t.fill(0);
    }
  RngStream data(2, RngPurpose::init);
  const Variable x(normal({2, 1, 28, 28}, 0.0, 1.0, data));
  const auto& children = net.module->children();
  const Variable stem = (*children[0].second)(x);
  const Variable block = (*children[1].second)(stem);
  ASSERT_EQ(block.shape(), stem.shape());
  EXPECT_TRUE(std::equal(stem.value().data<float>(), stem.value().data<float>() + stem.numel(),
                         block.value().data<float>()));
}

TEST(ModelFile, ArgumentsAndIfShapeTheNetwork) {
  const std::string text = R"(
[arguments]
width = 16
norm = false
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
units = "$width"
bias = "!$norm"
[[layers]]
type = "batch_norm"
if = "$norm"
[[layers]]
type = "linear"
units = "$classes"
)";
  EXPECT_EQ(names(*build(text).module),
            (std::vector<std::string>{"1.weight", "1.bias", "2.weight", "2.bias"}));
  const Network wide = build(text, {1, 28, 28}, {{"width", int64_t{32}}, {"norm", true}});
  EXPECT_EQ(names(*wide.module),
            (std::vector<std::string>{"1.weight", "2.weight", "2.bias", "3.weight", "3.bias"}));
  EXPECT_EQ(wide.module->named_parameters()[0].second.shape(), Shape({32, 784}));
  try {
    build(text, {1, 28, 28}, {{"depth", int64_t{3}}});
    ADD_FAILURE() << "an undeclared argument was taken";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("net.toml has no argument 'depth'; it declares norm, width"));
  }
}

// PyTorch's padding modes and pooling options: each shapes the output as PyTorch's would.
TEST(ModelFile, PaddingModesAndPoolingOptionsBuildWithPyTorchsShapes) {
  const std::string text = R"(
[[layers]]
type = "conv2d"
channels = 4
kernel = 3
padding = 1
padding_mode = "reflect"
[[layers]]
type = "relu"
[[layers]]
type = "max_pool2d"
kernel = 2
ceil_mode = true
[[layers]]
type = "conv2d"
channels = 4
kernel = 3
padding = 2
dilation = 2
padding_mode = "circular"
[[layers]]
type = "max_pool2d"
kernel = 2
stride = 1
dilation = [2, 1]
[[layers]]
type = "avg_pool2d"
kernel = 3
stride = 2
padding = 1
ceil_mode = true
count_include_pad = false
[[layers]]
type = "conv2d"
channels = 2
kernel = 3
padding = 1
padding_mode = "replicate"
)";
  // [3, 15, 14] -> reflect conv [4, 15, 14] -> ceil pool [4, 8, 7] -> circular conv [4, 8, 7]
  // -> dilated pool [4, 6, 6] -> ceil average [4, 4, 4] (the last window kept) -> [2, 4, 4]
  const Network net = build(text, {3, 15, 14});
  EXPECT_EQ(net.output_shape, Shape({2, 4, 4}));
  EXPECT_THAT(net.summary, HasSubstr("padding 1x1 reflect"));
  EXPECT_THAT(net.summary, HasSubstr("MaxPool2d(kernel 2x2, stride 2x2, padding 0x0, ceil_mode)"));
  EXPECT_THAT(net.summary, HasSubstr("dilation 2x1"));
  EXPECT_THAT(net.summary, HasSubstr("ceil_mode, count_include_pad=false"));
  RngStream data(3, RngPurpose::init);
  EXPECT_EQ((*net.module)(Variable(normal({2, 3, 15, 14}, 0.0, 1.0, data))).shape(),
            Shape({2, 2, 4, 4}));

  EXPECT_THAT(error_of("[[layers]]\ntype = \"conv2d\"\nchannels = 2\nkernel = 3\n"
                       "padding_mode = \"mirror\"\n"),
              HasSubstr("net.toml:1: layer 0 (conv2d): padding_mode must be zeros, reflect, "
                        "replicate or circular, got 'mirror'"));
  EXPECT_THAT(error_of("[[layers]]\ntype = \"conv2d\"\nchannels = 2\nkernel = 3\npadding = 3\n"
                       "padding_mode = \"reflect\"\n",
                       {1, 3, 3}),
              HasSubstr("reflect padding (3, 3, 3, 3) must be smaller than the input's"));
  EXPECT_THAT(error_of("[[layers]]\ntype = \"avg_pool2d\"\ndilation = 2\n"), HasSubstr("dilation"));
  EXPECT_THAT(error_of("[[layers]]\ntype = \"max_pool2d\"\ncount_include_pad = false\n"),
              HasSubstr("count_include_pad"));
  EXPECT_THAT(error_of("[[layers]]\ntype = \"max_pool2d\"\nceil_mode = 1\n"),
              HasSubstr("ceil_mode"));
}

TEST(ModelFile, TheShippedMlpTakesTheOptionsOfTheExperiments) {
  RngStream rng(3, RngPurpose::init);
  const auto m = make_model("mlp", {1, 28, 28}, 10, rng, {.hidden = 48, .batch_norm = true});
  EXPECT_EQ(names(*m), (std::vector<std::string>{"1.weight", "2.weight", "2.bias", "4.weight",
                                                 "5.weight", "5.bias", "7.weight", "7.bias"}));
  EXPECT_THAT(
      [&] {
        make_model("cnn", {1, 28, 28}, 10, rng, {.hidden = 48});
      },
      ::testing::ThrowsMessage<Error>(HasSubstr("models/cnn.toml has no argument 'hidden'")));
}

// bidirectional and dropout on recurrent layers: PyTorch's names and sizes, both directions'
// outputs side by side, and dropout between the layers in training only.
TEST(ModelFile, ABidirectionalRecurrentFileBuildsWithItsShapesAndParameters) {
  const Network seq = build(
      "[[layers]]\ntype = \"lstm\"\nhidden = 6\nlayers = 2\nbidirectional = true\n"
      "dropout = 0.3\n",
      {7, 3});
  EXPECT_EQ(seq.output_shape, Shape({7, 12}));
  // Per direction, layer 0: 24 * 3 + 24 * 6 + 2 * 24 = 264; layer 1 reads 12: 24 * 12 + 24 * 6
  // + 2 * 24 = 480.
  EXPECT_EQ(seq.module->num_parameters(), 2 * 264 + 2 * 480);
  const std::vector<std::string> all = names(*seq.module);
  EXPECT_EQ(all.size(), 16u);
  EXPECT_EQ(all[4], "0.weight_ih_l0_reverse");
  EXPECT_EQ(seq.module->named_parameters()[12].second.shape(), Shape({24, 12}));

  RngStream data(4, RngPurpose::test);
  const Variable x(uniform({2, 7, 3}, -1, 1, data));
  seq.module->train(false);
  const Tensor eval = (*seq.module)(x).value();
  EXPECT_EQ(eval.shape(), Shape({2, 7, 12}));
  seq.module->train(true);
  EXPECT_NE((*seq.module)(x).value().to_vector(), eval.to_vector()) << "dropout in training";

  const Network last = build(
      "[[layers]]\ntype = \"gru\"\nhidden = 5\nbidirectional = true\noutput = \"last_state\"\n"
      "[[layers]]\ntype = \"linear\"\nunits = \"$classes\"\n",
      {7, 3});
  EXPECT_EQ(last.output_shape, Shape({10}));
  // GRU per direction 15 * 3 + 15 * 5 + 2 * 15 = 150; the linear layer reads 10 = 2 * 5.
  EXPECT_EQ(last.module->num_parameters(), 2 * 150 + 10 * 10 + 10);
  EXPECT_THAT(error_of("[[layers]]\ntype = \"rnn\"\nhidden = 4\ndropout = 1.5\n", {7, 3}),
              HasSubstr("layer 0 (rnn): dropout must be in [0, 1), got 1.5"));
}

// Each kind of malformed file: one error naming the file, the line and what is wrong.
TEST(ModelFile, MalformedFilesNameTheFileLineAndLayer) {
  EXPECT_THAT(error_of("[[layers]]\ntype = \"relu\"\nunits = [1,\n"), HasSubstr("net.toml:3:"));
  EXPECT_THAT(error_of("[network]\nx = 1\n[[layers]]\ntype = \"relu\"\n"),
              HasSubstr("net.toml:1: unknown key 'network'"));
  EXPECT_THAT(error_of("[model]\nname = \"x\"\n"), HasSubstr("net.toml: has no [[layers]]"));
  EXPECT_THAT(error_of("[[layers]]\ntype = \"relu\"\n\n[[layers]]\ntype = \"convolution\"\n"),
              HasSubstr("net.toml:4: layer 1 (convolution): unknown layer type 'convolution'; "
                        "known types: linear, conv2d"));
  EXPECT_THAT(error_of("[[layers]]\ntype = \"flatten\"\n[[layers]]\ntype = \"linear\"\n"
                       "units = 10\nwidth = 3\n"),
              HasSubstr("net.toml:3: layer 1 (linear): unknown option 'width'; linear takes "
                        "units, bias, init"));
  EXPECT_THAT(error_of("[[layers]]\ntype = \"flatten\"\n[[layers]]\ntype = \"linear\"\n"),
              HasSubstr("net.toml:3: layer 1 (linear): needs units (an integer)"));
  EXPECT_THAT(error_of("[[layers]]\ntype = \"flatten\"\n[[layers]]\ntype = \"linear\"\n"
                       "units = \"ten\"\n"),
              HasSubstr("layer 1 (linear): units must be an integer, got a string"));
  EXPECT_THAT(error_of("[[layers]]\ntype = \"flatten\"\n[[layers]]\ntype = \"linear\"\n"
                       "units = \"$clases\"\n"),
              HasSubstr("units = \"$clases\" names no argument; known here: $classes"));
  EXPECT_THAT(error_of("[[layers]]\ntype = \"flatten\"\n[[layers]]\ntype = \"conv2d\"\n"
                       "channels = 4\nkernel = 3\n"),
              HasSubstr("net.toml:3: layer 1 (conv2d): takes (N, C, H, W), got [1, 784] (the "
                        "output of the layer before it)"));
  EXPECT_THAT(
      error_of("[[layers]]\ntype = \"add\"\nbranches = [ { type = \"identity\" }, "
               "{ type = \"max_pool2d\" } ]\n"),
      HasSubstr("net.toml:1: layer 0 (add): does not fit its input [1, 1, 28, 28] (shown with a "
                "batch of 1): Sum: branch 1 gives [1, 1, 14, 14], branch 0 gives [1, 1, 28, 28]"));
  EXPECT_THAT(error_of("[[layers]]\nblock = \"resnet\"\n"),
              HasSubstr("net.toml:1: layer 0 (block resnet): uses block 'resnet', which "
                        "[blocks] does not define"));
  EXPECT_THAT(error_of("[blocks.loop]\ntype = \"sequential\"\nlayers = [ { block = \"loop\" } ]\n"
                       "[[layers]]\nblock = \"loop\"\n"),
              HasSubstr("nest deeper than 32; does a block use itself?"));
  EXPECT_THAT(error_of("[[layers]]\nname = \"a\"\ntype = \"relu\"\n[[layers]]\nname = \"a\"\n"
                       "type = \"relu\"\n"),
              HasSubstr("net.toml:4: layer a: the name 'a' is taken by an earlier layer"));
  EXPECT_THAT(error_of("[[layers]]\ntype = \"conv2d\"\nchannels = 4\nkernel = 2\n"
                       "padding = \"same\"\n"),
              HasSubstr("padding = \"same\" with kernel [2, 2]"));
  EXPECT_THAT(error_of("[[layers]]\ntype = \"concat\"\nbranches = [ { type = \"identity\" }, "
                       "{ type = \"max_pool2d\" } ]\n"),
              HasSubstr("layer 0 (concat): does not fit its input [1, 1, 28, 28]"));
  EXPECT_THAT(
      error_of("[[layers]]\ntype = \"transformer_encoder\"\nheads = 3\nfeedforward = 8\n", {5, 8}),
      HasSubstr("heads = 3 must divide the input's width 8"));
}

// What a small file can ask for is bounded before it is allocated: sizes, and the layers that
// blocks using blocks multiply.
TEST(ModelFile, SizesAndLayerCountsAreBoundedAndBranchesTakeNoIf) {
  EXPECT_THAT(error_of("[[layers]]\ntype = \"max_pool2d\"\npadding = 2000000000\n"),
              HasSubstr("layer 0 (max_pool2d): padding must be from 0 to 2^30"));
  EXPECT_THAT(error_of("[[layers]]\ntype = \"permute\"\ndims = [0, 2, 1, 3]\n[[layers]]\n"
                       "type = \"flatten\"\nstart = 2\n[[layers]]\ntype = \"lstm\"\n"
                       "hidden = 1000000\nlayers = 1000\n"),
              HasSubstr("layer 2 (lstm): its weights would hold 4e+15 values"));
  std::string fan = "[blocks.b0]\ntype = \"relu\"\n";
  for (int level = 1; level <= 3; ++level) {
    fan += fmt::format("[blocks.b{}]\ntype = \"sequential\"\nlayers = [", level);
    for (int i = 0; i < 30; ++i)
      fan += fmt::format("{}{{ block = \"b{}\" }}", i ? ", " : "", level - 1);
    fan += "]\n";
  }
  fan += "[[layers]]\nblock = \"b3\"\n";
  EXPECT_THAT(error_of(fan), HasSubstr("the network has more than 20000 layers"));
  EXPECT_THAT(error_of("[[layers]]\ntype = \"add\"\nbranches = [ { type = \"identity\" }, "
                       "{ type = \"relu\", if = false } ]\n"),
              HasSubstr("layer 0.1: a branch is always built"));
  EXPECT_THAT(error_of("[blocks.x]\ntype = \"relu\"\nif = false\n[[layers]]\nblock = \"x\"\n"),
              HasSubstr("block 'x' has an `if`"));
}

TEST(ModelFile, EveryShippedModelBuildsWithItsSummary) {
  for (const std::string& name : shipped_model_names()) {
    SCOPED_TRACE(name);
    RngStream rng(1, RngPurpose::init);
    const Network net = build_network(
        shipped_model(name),
        NetworkInputs{.sample = {1, 28, 28}, .classes = 10, .arguments = {}, .seed = 0}, rng);
    EXPECT_EQ(net.output_shape, Shape({10}));
    EXPECT_THAT(net.summary,
                HasSubstr(fmt::format("Total parameters: {}", net.module->num_parameters())));
  }
  EXPECT_THAT(
      [] { shipped_model("resnet"); },
      ::testing::ThrowsMessage<Error>(HasSubstr("unknown model 'resnet'; known models: cnn")));
}

}  // namespace
}  // namespace tide
