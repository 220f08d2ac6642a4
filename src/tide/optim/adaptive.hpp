// Optimizers with per-parameter state beyond momentum: Adam and AdamW, RMSprop, Adagrad
// (each with torch.optim's update rule, kernels/optim_kernels.hpp), and LARS (layer-wise
// adaptive rate scaling). All update f32 parameters.
#pragma once

#include <string>

#include "tide/optim/optimizer.hpp"
#include "tide/optim/param_state.hpp"

namespace tide {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0;
  bool decoupled = false;  // AdamW: weight decay applied to the parameter, not the gradient
  bool amsgrad = false;    // divide by the largest second moment so far (max_exp_avg_sq)
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Variable> params, AdamOptions options);
  void step() override;
  TensorMap state_dict() const override { return state_.state_dict(); }
  void load_state_dict(const TensorMap& s) override { state_.load_state_dict(s, name()); }

 private:
  std::string name() const { return options_.decoupled ? "AdamW" : "Adam"; }
  AdamOptions options_;
  ParamState state_;
};

struct RmsPropOptions {
  double lr = 1e-2;
  double alpha = 0.99, eps = 1e-8;
  double weight_decay = 0;
  double momentum = 0;
  bool centered = false;
};

class RmsProp : public Optimizer {
 public:
  RmsProp(std::vector<Variable> params, RmsPropOptions options);
  void step() override;
  TensorMap state_dict() const override { return state_.state_dict(); }
  void load_state_dict(const TensorMap& s) override { state_.load_state_dict(s, "RMSprop"); }

 private:
  RmsPropOptions options_;
  ParamState state_;
};

struct AdagradOptions {
  double lr = 1e-2;
  double lr_decay = 0;
  double eps = 1e-10;
  double weight_decay = 0;
};

class Adagrad : public Optimizer {
 public:
  Adagrad(std::vector<Variable> params, AdagradOptions options);
  void step() override;
  TensorMap state_dict() const override { return state_.state_dict(); }
  void load_state_dict(const TensorMap& s) override { state_.load_state_dict(s, "Adagrad"); }

 private:
  AdagradOptions options_;
  ParamState state_;
};

// LARS with momentum: each weight matrix or kernel (a parameter of 2 or more dimensions)
// moves at lr * trust * ||w|| / (||g|| + weight_decay * ||w||) (1 when either norm is 0);
// biases and normalisation parameters (1-D) move at lr and without weight decay, as
// is usual for LARS.
struct LarsOptions {
  double lr = 0.1;
  double momentum = 0.9;
  double weight_decay = 0;
  double trust = 0.001;  // the trust coefficient eta
};

class Lars : public Optimizer {
 public:
  Lars(std::vector<Variable> params, LarsOptions options);
  void step() override;
  TensorMap state_dict() const override { return state_.state_dict(); }
  void load_state_dict(const TensorMap& s) override { state_.load_state_dict(s, "LARS"); }

 private:
  LarsOptions options_;
  ParamState state_;
};

}  // namespace tide
