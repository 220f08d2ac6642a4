// Tide's shipped networks built in PyTorch and exported as ONNX (tests/onnx/torch_models.py,
// run by ctest as the fixture onnx_torch into build/onnx_torch): imported, each gives
// PyTorch's outputs, loss, every parameter's gradient and batch norm's running statistics,
// in train mode and in eval mode, and 3 SGD steps give PyTorch's losses.
//
// Each comparison is the largest difference relative to the largest magnitude of PyTorch's
// tensor (a gradient of tiny entries beside large ones is held to the large ones' rounding).
// oneDNN's kernels in Tide and PyTorch's own sum in other orders: float32 agrees to about
// 1e-7 per op, and gradients pass through the graph twice.
#include <cmath>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tide/autograd/ops.hpp"
#include "tide/onnx/onnx.hpp"
#include "tide/optim/sgd.hpp"
#include "tide/tensor/safetensors.hpp"

namespace tide {
namespace {

constexpr double kOutputTol = 1e-5;    // logits in train and eval mode; the loss
constexpr double kGradTol = 1e-4;      // each parameter's gradient
constexpr double kStatsTol = 1e-5;     // running mean and variance after the forward
constexpr double kStepLossTol = 1e-5;  // the losses of 3 SGD steps
// The running statistics after the 3 steps, computed with the weights they trained. The
// training batches are not chosen as the compared one is (torch_models.py): a ReLU input
// within rounding of 0 (inception's first step has one 2e-8 from it) counts that element's
// gradient on one side only, and the weights after the step differ by it.
constexpr double kTrainedStatsTol = 1e-4;

struct Case {
  const char* name;  // in torch_models.py's NETWORKS
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

const Case kCases[] = {{"mlp"},
                       {"cnn"},
                       {"inception"},
                       {"lstm"},
                       {"gru"},
                       {"resnet"},
                       {"deep_recurrent"},
                       {"transformer_opset13"},
                       {"transformer_opset17"}};

std::string fixture_path(const std::string& name, const char* ext) {
  return fmt::format("{}/onnx_torch/{}.{}", TIDE_BINARY_DIR, name, ext);
}

// max |actual - expected| / max |expected|; a shape mismatch fails the test.
double relative_error(const Tensor& actual, const Tensor& expected, const std::string& what) {
  EXPECT_EQ(actual.shape(), expected.shape()) << what;
  if (actual.shape() != expected.shape()) return INFINITY;
  const std::vector<double> a = actual.to_vector(), e = expected.to_vector();
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::fabs(a[i] - e[i]));
    scale = std::max(scale, std::fabs(e[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

double relative_error(double actual, double expected) {
  return std::fabs(actual - expected) / std::fabs(expected);
}

Network import(const std::string& name) {
  return build_network(
      OnnxModel::read(fixture_path(name, "onnx")),
      NetworkInputs{.sample = Shape({1, 28, 28}), .classes = 10, .arguments = {}, .seed = 0});
}

// The running statistics: the state dict's entries that are not parameters.
TensorMap buffers_of(const Module& m) {
  TensorMap state = m.state_dict();
  for (const auto& [name, p] : m.named_parameters()) state.erase(name);
  return state;
}

// The fixture's entries under `prefix`, without it.
TensorMap with_prefix(const TensorMap& fx, const std::string& prefix) {
  TensorMap out;
  for (const auto& [name, t] : fx)
    if (name.starts_with(prefix)) out.emplace(name.substr(prefix.size()), t);
  return out;
}

// The largest relative error of Tide's tensors against PyTorch's of the same names; each side
// must name every tensor the other does.
double compare_all(const TensorMap& tide, const TensorMap& torch, const std::string& what,
                   double tol) {
  double worst = 0;
  for (const auto& [name, t] : tide) {
    const auto it = torch.find(name);
    EXPECT_NE(it, torch.end()) << "Tide's " << what << " " << name << " is not PyTorch's";
    if (it == torch.end()) continue;
    const double e = relative_error(t, it->second, what + " " + name);
    EXPECT_LE(e, tol) << what << " " << name;
    worst = std::max(worst, e);
  }
  for (const auto& [name, t] : torch)
    EXPECT_TRUE(tide.contains(name)) << "PyTorch's " << what << " " << name << " is not Tide's";
  return worst;
}

class OnnxImport : public ::testing::TestWithParam<Case> {};

TEST_P(OnnxImport, MatchesPyTorch) {
  const std::string name = GetParam().name;
  const TensorMap fx = load_safetensors(fixture_path(name, "safetensors"));
  const Variable input(fx.at("input"));

  // One forward and backward in train mode, then the forward in eval mode.
  const Network net = import(name);
  Module& m = *net.module;
  m.train();
  const Variable out = m(input);
  const double out_err = relative_error(out.value(), fx.at("output"), "output");
  EXPECT_LE(out_err, kOutputTol) << "output";
  const Variable loss = cross_entropy(out, fx.at("labels"));
  const double loss_err = relative_error(loss.value().item(), fx.at("loss").item());
  EXPECT_LE(loss_err, kOutputTol) << "loss " << loss.value().item();
  loss.backward();
  TensorMap grads;
  for (const auto& [pname, p] : m.named_parameters()) {
    EXPECT_TRUE(p.grad().defined()) << pname << " has no gradient";
    if (p.grad().defined()) grads.emplace(pname, p.grad());
  }
  EXPECT_FALSE(grads.empty());
  const double grad_err = compare_all(grads, with_prefix(fx, "grad."), "gradient", kGradTol);
  const double stats_err =
      compare_all(buffers_of(m), with_prefix(fx, "stats."), "running statistic", kStatsTol);
  m.eval();
  double eval_err = 0;
  {
    NoGradGuard no_grad;
    eval_err = relative_error(m(input).value(), fx.at("eval_output"), "eval output");
  }
  EXPECT_LE(eval_err, kOutputTol) << "eval-mode output";

  // 3 SGD steps from the file's weights.
  const Network fresh = import(name);
  Module& t = *fresh.module;
  t.train();
  Sgd opt(t.parameters(), SgdOptions{.lr = 0.05, .momentum = 0.9});
  const Tensor &xs = fx.at("train_input"), &ys = fx.at("train_labels");
  const std::vector<double> want = fx.at("train_losses").to_vector();
  ASSERT_EQ(want.size(), 3u);
  double step_err = 0;
  for (int64_t s = 0; s < 3; ++s) {
    t.begin_step(s);
    opt.zero_grad();
    const Variable l = cross_entropy(t(Variable(xs.slice(s, s + 1).reshape({8, 1, 28, 28}))),
                                     ys.slice(s, s + 1).reshape({8}));
    l.backward();
    opt.step();
    const double e = relative_error(l.value().item(), want[s]);
    EXPECT_LE(e, kStepLossTol) << "loss of step " << s << ": " << l.value().item() << ", "
                               << "PyTorch's " << want[s];
    step_err = std::max(step_err, e);
  }
  const double trained_err = compare_all(buffers_of(t), with_prefix(fx, "trained_stats."),
                                         "running statistic after training", kTrainedStatsTol);

  // The measured differences, for the record (ctest -V shows them).
  fmt::print(
      "{}: output {:.1e}, loss {:.1e}, gradients {:.1e}, running stats {:.1e}, eval output "
      "{:.1e}, step losses {:.1e}, stats after training {:.1e}\n",
      name, out_err, loss_err, grad_err, stats_err, eval_err, step_err, trained_err);
}

INSTANTIATE_TEST_SUITE_P(Torch, OnnxImport, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace tide
