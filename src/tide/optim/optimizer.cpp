#include "tide/optim/optimizer.hpp"

#include <cmath>

namespace tide {

Optimizer::Optimizer(std::vector<Variable> params, double lr) : params_(std::move(params)) {
  set_lr(lr);
  for (const Variable& p : params_)
    TIDE_CHECK(p.requires_grad(), "optimizer given a parameter {} that does not require a gradient",
               p.value().str());
}

void Optimizer::set_decay_mask(std::vector<bool> decay) {
  TIDE_CHECK(decay.size() == params_.size(), "decay mask of {} entries for {} parameters",
             decay.size(), params_.size());
  decay_ = std::move(decay);
}

void Optimizer::zero_grad() {
  for (Variable& p : params_) p.zero_grad();
}

void Optimizer::set_lr(double lr) {
  TIDE_CHECK(std::isfinite(lr) && lr >= 0, "learning rate must be a finite number >= 0, got {}",
             lr);
  lr_ = lr;
}

}  // namespace tide
