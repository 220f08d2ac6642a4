// Every row of the op table, checked two ways: finite differences on the f64 reference
// path, and values and gradients against PyTorch on the f32 path.
#include <cmath>
#include <filesystem>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "op_table.hpp"
#include "support/testing.hpp"
#include "tide/autograd/gradcheck.hpp"
#include "tide/tensor/random.hpp"
#include "tide/tensor/safetensors.hpp"

namespace tide::testing {
namespace {

Tensor draw(const Shape& shape, InputKind kind, RngStream& rng) {
  Tensor t = uniform(shape, -1.0, 1.0, rng, DType::f64);
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (kind == InputKind::positive) p[i] = 1.25 + 0.75 * p[i];  // [0.5, 2)
    if (kind == InputKind::away_from_zero) p[i] = std::copysign(0.1 + 0.9 * std::abs(p[i]), p[i]);
  }
  return t;
}

class OpTest : public ::testing::TestWithParam<OpCase> {};

TEST_P(OpTest, GradientMatchesFiniteDifferences) {
  const OpCase& op = GetParam();
  RngStream rng(42, RngPurpose::test, {std::hash<std::string>{}(op.name)});
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < op.shapes.size(); ++i)
    inputs.push_back(draw(op.shapes[i], op.kinds[i], rng));
  const GradcheckResult r = gradcheck(op.fn, inputs);
  EXPECT_TRUE(r.ok) << op.name << ": max error " << r.max_error << "\n" << r.report;
}

TEST_P(OpTest, MatchesPyTorch) {
  const OpCase& op = GetParam();
  const std::string path =
      std::string(TIDE_SOURCE_DIR) + "/tests/fixtures/ops/" + op.name + ".safetensors";
  const TensorMap fx = load_safetensors(path);
  std::vector<Variable> inputs;
  for (size_t i = 0; i < op.shapes.size(); ++i) {
    const Tensor& t = fx.at("input" + std::to_string(i));
    ASSERT_EQ(t.shape(), op.shapes[i]) << "fixture and table disagree on input " << i;
    inputs.emplace_back(t.clone(), true);
  }
  const Variable out = op.fn(inputs);
  expect_close(out.value(), fx.at("output"), op.name + " output");
  out.backward(fx.at("grad_output"));
  for (size_t i = 0; i < inputs.size(); ++i)
    expect_close(inputs[i].grad(), fx.at("grad_input" + std::to_string(i)),
                 op.name + " grad of input " + std::to_string(i));
}

// The C++ table and the generator's table name the same cases: every row has a fixture
// and every fixture a row.
TEST(OpTable, MatchesTheFixtures) {
  std::set<std::string> rows, fixtures;
  for (const OpCase& op : op_table()) rows.insert(op.name);
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(TIDE_SOURCE_DIR) + "/tests/fixtures/ops"))
    fixtures.insert(entry.path().stem().string());
  EXPECT_EQ(rows, fixtures);
}

INSTANTIATE_TEST_SUITE_P(Ops, OpTest, ::testing::ValuesIn(op_table()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace tide::testing

namespace tide {
namespace {

// Label smoothing against PyTorch (tests/fixtures/label_smoothing, eps 0.15), and its
// gradient by finite differences in f64.
TEST(CrossEntropy, LabelSmoothingMatchesPyTorch) {
  const TensorMap f = load_safetensors(std::string(TIDE_SOURCE_DIR) +
                                       "/tests/fixtures/label_smoothing.safetensors");
  Variable logits(f.at("logits").clone(), true);
  const Variable loss = cross_entropy(logits, f.at("labels"), 0.15);
  EXPECT_NEAR(loss.value().item(), f.at("loss").item(), 1e-5);
  loss.backward();
  testing::expect_close(logits.grad(), f.at("grad"), "d loss / d logits", 1e-6);
  // Without smoothing the loss is plain cross-entropy, and smoothing changes it.
  EXPECT_NE(cross_entropy(Variable(f.at("logits")), f.at("labels")).value().item(),
            loss.value().item());
  const GradcheckResult r = gradcheck(
      [&](const std::vector<Variable>& in) { return cross_entropy(in[0], f.at("labels"), 0.3); },
      {f.at("logits").to(DType::f64)});
  EXPECT_TRUE(r.ok) << r.report;
  EXPECT_THROW(cross_entropy(logits, f.at("labels"), 1.0), Error);
}

// The general path with no option set is the plain loss; an ignored row changes nothing of
// the others' gradient but its own; bad options are errors that say what is wrong.
TEST(CrossEntropy, OptionsAgreeWithThePlainLossAndRefuseWhatPyTorchRefuses) {
  RngStream rng(7, RngPurpose::init);
  const Tensor x = normal({5, 4}, 0.0, 1.0, rng);
  const Tensor y = Tensor::from<int64_t>({5}, {0, 3, 1, 3, 2});
  Variable plain(x.clone(), true), general(x.clone(), true);
  const Variable a = cross_entropy(plain, y), b = cross_entropy(general, y, CrossEntropyOptions{});
  EXPECT_NEAR(a.value().item(), b.value().item(), 1e-6);
  a.backward();
  b.backward();
  testing::expect_close(general.grad(), plain.grad(), "d loss / d logits", 1e-6);

  Variable ignored(x.clone(), true);
  cross_entropy(ignored, y, CrossEntropyOptions{.weight = {}, .ignore_index = 1}).backward();
  for (int64_t c = 0; c < 4; ++c) EXPECT_EQ(ignored.grad().data<float>()[2 * 4 + c], 0.0f);

  const auto message = [&](const Tensor& labels, const CrossEntropyOptions& o) {
    try {
      cross_entropy(Variable(x), labels, o);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message(Tensor::from<int64_t>({5}, {1, 1, 1, 1, 1}), {.weight = {}, .ignore_index = 1}),
            "cross_entropy: every row is ignored (label 1) or has weight 0; the mean is undefined");
  EXPECT_EQ(message(Tensor::from<int64_t>({5}, {0, 4, 1, 1, 1}), {}),
            "cross_entropy: label 4 in row 1 is outside [0, 4)");
  EXPECT_EQ(message(y, {.weight = Tensor::from<float>({3}, {1, 1, 1})}),
            "cross_entropy: weight must be a float tensor of 4 (one per class), got f32[3]");
  EXPECT_EQ(message(y, {.weight = Tensor::from<float>({4}, {1, -1, 1, 1})}),
            "cross_entropy: class weights must be finite and not negative, got -1 for 1");
  EXPECT_THROW(
      cross_entropy_soft(Variable(x), Tensor::from<float>({5, 4}, std::vector<float>(20, 2.0f))),
      Error);
}

// padding_idx against PyTorch (tests/fixtures/embedding_padding): the padding row is looked
// up but gets no gradient, though indices use it twice. Its true derivative is not zero, so
// finite differences check the other rows: the padding row is a constant spliced into the
// table.
TEST(Embedding, PaddingRowGetsNoGradientAsPyTorch) {
  const TensorMap f = load_safetensors(std::string(TIDE_SOURCE_DIR) +
                                       "/tests/fixtures/embedding_padding.safetensors");
  for (const int64_t padding : {3, -4}) {
    Variable w(f.at("weight").clone(), true);
    const Variable out = embedding(w, f.at("indices"), padding);
    testing::expect_close(out.value(), f.at("output"), "output");
    out.backward(f.at("grad_output"));
    testing::expect_close(w.grad(), f.at("grad_weight"), "d out / d weight");
  }
  const Tensor ids = f.at("indices");
  const Tensor w = f.at("weight").to(DType::f64);
  const Tensor padding_row = w.slice(3, 4).clone();
  const GradcheckResult r = gradcheck(
      [&](const std::vector<Variable>& in) {
        const Variable table =
            concat({slice(in[0], 0, 0, 3), Variable(padding_row), slice(in[0], 0, 3, 6)}, 0);
        return embedding(table, ids, 3);
      },
      {concat({Variable(w.slice(0, 3)), Variable(w.slice(4, 7))}, 0).value()});
  EXPECT_TRUE(r.ok) << r.report;
  EXPECT_THAT(testing::error_of([&] { embedding(Variable(w), ids, 7); }),
              ::testing::HasSubstr("padding_idx 7 is outside the vocabulary of 7"));
}

}  // namespace
}  // namespace tide

namespace tide {
namespace {

// What PyTorch refuses, refused with the op, the option and the sizes named: dilation in
// average pooling, reflect padding as large as the input, circular padding that wraps twice,
// negative padding.
TEST(PoolAndPad, OptionsPyTorchRefusesAreErrorsNamingTheSizes) {
  const Variable x(Tensor::zeros({1, 2, 4, 5}));
  EXPECT_EQ(testing::error_of([&] {
              avg_pool2d(x, {.dilation = {2, 1}});
            }),
            "avg_pool2d: dilation is for max pooling only (PyTorch's avg_pool2d has none), got "
            "2x1");
  EXPECT_EQ(testing::error_of([&] {
              pad2d(x, {1, 1, 4, 0}, PaddingMode::reflect);
            }),
            "pad2d: reflect padding (1, 1, 4, 0) must be smaller than the input's height 4 "
            "(input [1, 2, 4, 5])");
  EXPECT_EQ(testing::error_of([&] {
              pad2d(x, {6, 0, 0, 0}, PaddingMode::circular);
            }),
            "pad2d: circular padding (6, 0, 0, 0) must be at most the input's width 5 (input "
            "[1, 2, 4, 5])");
  EXPECT_EQ(testing::error_of([&] {
              pad2d(x, {0, -1, 0, 0}, PaddingMode::zeros);
            }),
            "pad2d: padding (0, -1, 0, 0) must not be negative");
  EXPECT_EQ(testing::error_of([&] {
              max_pool2d(x, {.stride = {-1, 1}});
            }),
            "max_pool2d: stride -1x1 (0: the kernel) and dilation 1x1 must be positive");
  EXPECT_EQ(testing::error_of([&] {
              max_pool2d(x, {.kernel = {0, 2}});
            }),
            "max_pool2d: kernel 0x2 must be positive");
  // Replicate padding may exceed the input, as in PyTorch; so may zeros.
  EXPECT_EQ(pad2d(x, {7, 0, 0, 9}, PaddingMode::replicate).shape(), Shape({1, 2, 13, 12}));
  // Ceil mode keeps the last window only if it starts inside the input or the left padding:
  // 5 wide, kernel 2, stride 2, padding 1 gives 3 windows, not 4.
  EXPECT_EQ(max_pool2d(x, {.padding = {1, 1}, .ceil_mode = true}).shape(), Shape({1, 2, 3, 3}));
}

}  // namespace
}  // namespace tide
