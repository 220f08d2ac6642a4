// Optimizer: updates a list of parameters from their gradients.
#pragma once

#include <vector>

#include "tide/autograd/variable.hpp"
#include "tide/tensor/safetensors.hpp"

namespace tide {

class Optimizer {
 public:
  Optimizer(std::vector<Variable> params, double lr);
  virtual ~Optimizer() = default;

  // Applies one update to every parameter that has a gradient.
  virtual void step() = 0;
  // Drops every parameter's gradient.
  void zero_grad();

  double lr() const { return lr_; }
  // Learning-rate schedules call this between steps.
  void set_lr(double lr);
  const std::vector<Variable>& params() const { return params_; }

  // Which parameters weight decay applies to (all by default): with a mask, parameter i
  // decays only where decay[i] is true (biases and normalisation parameters are often
  // left out).
  void set_decay_mask(std::vector<bool> decay);

  // The optimizer's state (momentum buffers, step count) for checkpoints.
  virtual TensorMap state_dict() const = 0;
  virtual void load_state_dict(const TensorMap& state) = 0;

 protected:
  // The weight decay of parameter i: `weight_decay`, or 0 where the mask leaves it out.
  double decay_of(size_t i, double weight_decay) const {
    return decay_.empty() || decay_[i] ? weight_decay : 0.0;
  }

  std::vector<Variable> params_;
  double lr_;
  std::vector<bool> decay_;
};

}  // namespace tide
