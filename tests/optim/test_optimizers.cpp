// Every optimizer against torch.optim (tests/fixtures/optimizers.safetensors and
// optimizers_amsgrad.safetensors, written by generate.py): three steps from the same parameters
// with the same gradients give the same parameters. LARS has no torch.optim class; the generator
// holds its reference. Then state round trips and bad options.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"
#include "tide/autograd/ops.hpp"
#include "tide/optim/factory.hpp"

namespace tide {
namespace {

using ::testing::HasSubstr;

const TensorMap& fixture() {
  static const TensorMap f = [] {
    const std::string dir = std::string(TIDE_SOURCE_DIR) + "/tests/fixtures/";
    TensorMap all = load_safetensors(dir + "optimizers.safetensors");
    for (auto& [name, t] : load_safetensors(dir + "optimizers_amsgrad.safetensors"))
      all.emplace(name, t);  // the same parameters and gradients, and the amsgrad cases
    return all;
  }();
  return f;
}

struct Case {
  const char* name;
  OptimizerConfig config;
};

const Case kCases[] = {
    {"sgd_nesterov",
     {.kind = OptimizerKind::sgd,
      .lr = 0.1,
      .momentum = 0.9,
      .nesterov = true,
      .weight_decay = 0.01}},
    {"sgd_dampening", {.kind = OptimizerKind::sgd, .lr = 0.1, .momentum = 0.9, .dampening = 0.3}},
    {"adam",
     {.kind = OptimizerKind::adam,
      .lr = 0.01,
      .weight_decay = 0.1,
      .beta1 = 0.8,
      .beta2 = 0.99,
      .eps = 1e-6}},
    {"adamw", {.kind = OptimizerKind::adamw, .lr = 0.01, .weight_decay = 0.1}},
    {"adam_amsgrad",
     {.kind = OptimizerKind::adam,
      .lr = 0.01,
      .weight_decay = 0.1,
      .beta1 = 0.8,
      .beta2 = 0.5,
      .amsgrad = true,
      .eps = 1e-6}},
    {"adamw_amsgrad",
     {.kind = OptimizerKind::adamw,
      .lr = 0.01,
      .weight_decay = 0.1,
      .beta2 = 0.5,
      .amsgrad = true}},
    {"rmsprop", {.kind = OptimizerKind::rmsprop, .lr = 0.01, .alpha = 0.9}},
    {"rmsprop_centered",
     {.kind = OptimizerKind::rmsprop,
      .lr = 0.01,
      .momentum = 0.5,
      .weight_decay = 0.05,
      .eps = 1e-6,
      .alpha = 0.9,
      .centered = true}},
    {"adagrad",
     {.kind = OptimizerKind::adagrad, .lr = 0.1, .weight_decay = 0.05, .lr_decay = 0.01}},
    {"lars",
     {.kind = OptimizerKind::lars,
      .lr = 0.5,
      .momentum = 0.9,
      .weight_decay = 0.01,
      .trust = 0.02}},
    {"adamw_decay_matrix_only",
     {.kind = OptimizerKind::adamw, .lr = 0.01, .weight_decay = 0.1, .decay_1d = false}},
    {"sgd_decay_matrix_only",
     {.kind = OptimizerKind::sgd,
      .lr = 0.1,
      .momentum = 0.9,
      .weight_decay = 0.1,
      .decay_1d = false}},
};

class OptimizerTest : public ::testing::TestWithParam<Case> {};

TEST_P(OptimizerTest, ThreeStepsMatchPyTorch) {
  const Case& c = GetParam();
  const TensorMap& f = fixture();
  std::vector<Variable> params{Variable(f.at("param0").clone(), true),
                               Variable(f.at("param1").clone(), true)};
  const auto opt = make_optimizer(params, c.config);
  for (int k = 0; k < 3; ++k) {
    opt->zero_grad();
    for (int j = 0; j < 2; ++j)
      params[j].accumulate_grad(f.at(fmt::format("grad{}_{}", k, j)).clone());
    opt->step();
    for (int j = 0; j < 2; ++j)
      testing::expect_close(params[j].value(), f.at(fmt::format("{}.after{}_{}", c.name, k, j)),
                            fmt::format("{} step {} parameter {}", c.name, k + 1, j), 2e-6);
  }
}

TEST_P(OptimizerTest, StateDictResumesExactly) {
  const Case& c = GetParam();
  auto run = [&](bool reload) {
    Variable w(Tensor::from<float>({2, 2}, {1, -2, 3, 0.5}), true);
    auto opt = make_optimizer({w}, c.config);
    for (int i = 0; i < 5; ++i) {
      if (i == 2 && reload) {
        const TensorMap state = opt->state_dict();
        opt = make_optimizer({w}, c.config);
        opt->load_state_dict(state);
      }
      opt->zero_grad();
      sum(square(w) * Variable(Tensor::full({}, 0.5 + i))).backward();
      opt->step();
    }
    return w.value().to_vector();
  };
  EXPECT_EQ(run(false), run(true)) << c.name;
}

// amsgrad's running maximum of the second moment is state: it is saved (as PyTorch names it),
// and a run resumed from the state dict after the gradient shrinks ends where an unbroken one
// does (with the maximum lost it would divide by the smaller, current moment).
TEST(Optimizers, AmsgradSavesTheMaximumSecondMoment) {
  const OptimizerConfig config{.kind = OptimizerKind::adam, .beta2 = 0.5, .amsgrad = true};
  auto run = [&](bool reload) {
    Variable w(Tensor::from<float>({2}, {1, -2}), true);
    auto opt = make_optimizer({w}, config);
    for (int i = 0; i < 4; ++i) {
      if (i == 2 && reload) {
        const TensorMap state = opt->state_dict();
        EXPECT_GT(state.at("max_exp_avg_sq.0").to_vector()[0],
                  state.at("exp_avg_sq.0").to_vector()[0]);
        opt = make_optimizer({w}, config);
        opt->load_state_dict(state);
      }
      opt->zero_grad();
      w.accumulate_grad(Tensor::full({2}, i == 0 ? 3.0 : 0.1));
      opt->step();
    }
    return w.value().to_vector();
  };
  EXPECT_EQ(run(false), run(true));
  // Plain Adam keeps no maximum.
  Variable w(Tensor::zeros({2}), true);
  auto adam = make_optimizer({w}, {.kind = OptimizerKind::adam});
  w.accumulate_grad(Tensor::full({2}, 1.0));
  adam->step();
  EXPECT_EQ(adam->state_dict().count("max_exp_avg_sq.0"), 0u);
  EXPECT_EQ(adam->state_dict().count("exp_avg_sq.0"), 1u);
}

INSTANTIATE_TEST_SUITE_P(All, OptimizerTest, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Optimizers, BadNamesAndOptionsAreClearErrors) {
  std::vector<Variable> params{Variable(Tensor::zeros({2}), true)};
  EXPECT_THAT(testing::error_of([&] { parse_choice<OptimizerKind>("adamax", "optimizer"); }),
              HasSubstr("optimizer must be sgd, adam, adamw, rmsprop, adagrad or lars, got "
                        "'adamax'"));
  EXPECT_THAT(testing::error_of(
                  [&] { make_optimizer(params, {.kind = OptimizerKind::adam, .beta1 = 1.0}); }),
              HasSubstr("Adam betas must be in [0, 1)"));
  EXPECT_THAT(
      testing::error_of([&] { make_optimizer(params, {.kind = OptimizerKind::lars, .trust = 0}); }),
      HasSubstr("LARS needs"));
  auto opt = make_optimizer(params, {.kind = OptimizerKind::adam});
  EXPECT_THAT(testing::error_of([&] {
                opt->load_state_dict({{"exp_avg.7", Tensor::zeros({2})}});
              }),
              HasSubstr("Adam state has an unexpected entry 'exp_avg.7'"));
}

}  // namespace
}  // namespace tide
