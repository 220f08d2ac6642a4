// Stochastic gradient descent with momentum, Nesterov momentum and weight decay, with
// exactly torch.optim.SGD's update rule (see kernels/optim_kernels.hpp).
#pragma once

#include "tide/optim/optimizer.hpp"

namespace tide {

struct SgdOptions {
  double lr = 0.01;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;  // L2 penalty added to the gradient
  bool nesterov = false;
};

class Sgd : public Optimizer {
 public:
  Sgd(std::vector<Variable> params, SgdOptions options);
  void step() override;
  TensorMap state_dict() const override;
  void load_state_dict(const TensorMap& state) override;
  const SgdOptions& options() const { return options_; }

 private:
  SgdOptions options_;
  std::vector<Tensor> momentum_;  // per parameter; undefined until its first step
};

}  // namespace tide
