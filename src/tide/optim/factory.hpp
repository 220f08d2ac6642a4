// Optimizers by kind, for `tide train --optimizer`.
#pragma once

#include <memory>
#include <string>

#include "tide/core/options.hpp"
#include "tide/optim/optimizer.hpp"

namespace tide {

enum class OptimizerKind { sgd, adam, adamw, rmsprop, adagrad, lars };
constexpr std::array<std::string_view, 6> choice_names(OptimizerKind) {
  return {"sgd", "adam", "adamw", "rmsprop", "adagrad", "lars"};
}

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::sgd;
  double lr = 0.01;
  double momentum = 0;  // sgd, rmsprop, lars
  double dampening = 0;
  bool nesterov = false;
  double weight_decay = 0;  // L2 on the gradient; decoupled for adamw
  double beta1 = 0.9, beta2 = 0.999;
  bool amsgrad = false;   // adam, adamw
  double eps = 0;         // 0: the optimizer's own default (1e-8; Adagrad 1e-10)
  double alpha = 0.99;    // rmsprop
  bool centered = false;  // rmsprop
  double lr_decay = 0;    // adagrad
  double trust = 0.001;   // lars
  bool decay_1d = true;   // false: no weight decay on biases and norm parameters (1-D)
};

// Throws tide::Error when an option is out of range for the optimizer.
std::unique_ptr<Optimizer> make_optimizer(std::vector<Variable> params, const OptimizerConfig& c);

}  // namespace tide
