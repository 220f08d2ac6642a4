// SGD through the Optimizer interface: which parameters move, state round trip, bad options.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tide/autograd/ops.hpp"
#include "tide/optim/sgd.hpp"

namespace tide {
namespace {

TEST(Sgd, MomentumStepsFollowPyTorchRule) {
  // Loss sum(w * c) has the constant gradient c; with momentum 0.5 the buffer after steps
  // 1, 2, 3 is c, 1.5c, 1.75c, so w moves by lr times their sum.
  Variable w(Tensor::from<float>({2}, {1, 1}), true);
  const Variable c(Tensor::from<float>({2}, {2, -4}));
  Sgd opt({w}, SgdOptions{.lr = 0.1, .momentum = 0.5});
  for (int i = 0; i < 3; ++i) {
    opt.zero_grad();
    sum(w * c).backward();
    opt.step();
  }
  const double moved = 0.1 * (1 + 1.5 + 1.75);
  EXPECT_NEAR(w.value().to_vector()[0], 1 - moved * 2, 1e-6);
  EXPECT_NEAR(w.value().to_vector()[1], 1 + moved * 4, 1e-6);
}

TEST(Sgd, ParametersWithoutGradientStayPut) {
  Variable a(Tensor::full({3}, 1.0), true), b(Tensor::full({3}, 1.0), true);
  Sgd opt({a, b}, SgdOptions{.lr = 1.0, .weight_decay = 0.5});
  sum(a).backward();
  opt.step();
  EXPECT_EQ(b.value().to_vector(), (std::vector<double>{1, 1, 1}));
  EXPECT_EQ(a.value().to_vector(), (std::vector<double>{-0.5, -0.5, -0.5}));  // 1 - (1 + 0.5)
}

TEST(Sgd, StateDictRestoresMomentum) {
  auto run = [](bool reload) {
    Variable w(Tensor::from<float>({2}, {1, 2}), true);
    auto opt =
        std::make_unique<Sgd>(std::vector<Variable>{w}, SgdOptions{.lr = 0.1, .momentum = 0.9});
    for (int i = 0; i < 4; ++i) {
      if (i == 2 && reload) {
        const TensorMap state = opt->state_dict();
        opt =
            std::make_unique<Sgd>(std::vector<Variable>{w}, SgdOptions{.lr = 0.1, .momentum = 0.9});
        opt->load_state_dict(state);
      }
      opt->zero_grad();
      sum(square(w)).backward();
      opt->step();
    }
    return w.value().to_vector();
  };
  EXPECT_EQ(run(false), run(true));
}

TEST(Sgd, RejectsBadOptions) {
  Variable w(Tensor::zeros({2}), true);
  EXPECT_THROW(Sgd({w}, SgdOptions{.lr = -1}), Error);
  EXPECT_THROW(Sgd({w}, SgdOptions{.lr = 0.1, .nesterov = true}), Error);  // needs momentum
  EXPECT_THROW(Sgd({Variable(Tensor::zeros({2}))}, SgdOptions{}), Error);  // no grad
  Sgd opt({w}, SgdOptions{.lr = 0.1, .momentum = 0.9});
  EXPECT_THROW(opt.load_state_dict({{"momentum.3", Tensor::zeros({2})}}), Error);
  EXPECT_THROW(opt.load_state_dict({{"momentum.0", Tensor::zeros({5})}}), Error);
}

}  // namespace
}  // namespace tide
