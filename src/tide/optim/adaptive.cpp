#include "tide/optim/adaptive.hpp"

#include <cmath>

#include "tide/kernels/optim_kernels.hpp"

namespace tide {
namespace {

void check_f32(const std::vector<Variable>& params, const char* who) {
  for (const Variable& p : params)
    TIDE_CHECK(p.dtype() == DType::f32, "{} updates f32 parameters, got {}", who, p.value().str());
}

}  // namespace

Adam::Adam(std::vector<Variable> params, AdamOptions o)
    : Optimizer(std::move(params), o.lr),
      options_(o),
      state_(params_, {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}) {
  TIDE_CHECK(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1,
             "{} betas must be in [0, 1), got {} and {}", name(), o.beta1, o.beta2);
  TIDE_CHECK(o.eps > 0 && o.weight_decay >= 0, "{} needs eps > 0 and weight decay >= 0", name());
  check_f32(params_, "Adam");
}

void Adam::step() {
  ++state_.step;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& g = params_[i].grad();
    if (!g.defined()) continue;
    const Tensor& p = params_[i].value();
    adam_step(p.data<float>(), state_.get("exp_avg", i), state_.get("exp_avg_sq", i),
              options_.amsgrad ? state_.get("max_exp_avg_sq", i) : nullptr, g.data<float>(),
              p.numel(), static_cast<float>(lr_), static_cast<float>(options_.beta1),
              static_cast<float>(options_.beta2), static_cast<float>(options_.eps),
              static_cast<float>(decay_of(i, options_.weight_decay)), options_.decoupled,
              state_.step);
  }
}

RmsProp::RmsProp(std::vector<Variable> params, RmsPropOptions o)
    : Optimizer(std::move(params), o.lr),
      options_(o),
      state_(params_, {"square_avg", "grad_avg", "momentum_buffer"}) {
  TIDE_CHECK(o.alpha >= 0 && o.alpha < 1 && o.eps > 0 && o.weight_decay >= 0 && o.momentum >= 0,
             "RMSprop needs alpha in [0, 1), eps > 0, weight decay and momentum >= 0");
  check_f32(params_, "RMSprop");
}

void RmsProp::step() {
  ++state_.step;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& g = params_[i].grad();
    if (!g.defined()) continue;
    const Tensor& p = params_[i].value();
    rmsprop_step(p.data<float>(), state_.get("square_avg", i),
                 options_.centered ? state_.get("grad_avg", i) : nullptr,
                 options_.momentum > 0 ? state_.get("momentum_buffer", i) : nullptr,
                 g.data<float>(), p.numel(), static_cast<float>(lr_),
                 static_cast<float>(options_.alpha), static_cast<float>(options_.eps),
                 static_cast<float>(decay_of(i, options_.weight_decay)),
                 static_cast<float>(options_.momentum));
  }
}

Adagrad::Adagrad(std::vector<Variable> params, AdagradOptions o)
    : Optimizer(std::move(params), o.lr), options_(o), state_(params_, {"sum"}) {
  TIDE_CHECK(o.lr_decay >= 0 && o.eps > 0 && o.weight_decay >= 0,
             "Adagrad needs lr decay >= 0, eps > 0 and weight decay >= 0");
  check_f32(params_, "Adagrad");
}

void Adagrad::step() {
  ++state_.step;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& g = params_[i].grad();
    if (!g.defined()) continue;
    const Tensor& p = params_[i].value();
    adagrad_step(p.data<float>(), state_.get("sum", i), g.data<float>(), p.numel(),
                 static_cast<float>(lr_), static_cast<float>(options_.lr_decay),
                 static_cast<float>(options_.eps),
                 static_cast<float>(decay_of(i, options_.weight_decay)), state_.step);
  }
}

Lars::Lars(std::vector<Variable> params, LarsOptions o)
    : Optimizer(std::move(params), o.lr), options_(o), state_(params_, {"momentum"}) {
  TIDE_CHECK(o.momentum >= 0 && o.momentum < 1 && o.weight_decay >= 0 && o.trust > 0,
             "LARS needs momentum in [0, 1), weight decay >= 0 and trust > 0");
  check_f32(params_, "LARS");
}

void Lars::step() {
  ++state_.step;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& g = params_[i].grad();
    if (!g.defined()) continue;
    const Tensor& p = params_[i].value();
    const bool adapt = p.ndim() >= 2;
    double local_lr = lr_;
    const double decay = adapt ? decay_of(i, options_.weight_decay) : 0.0;
    const float wd = static_cast<float>(decay);
    if (adapt) {
      const double w = std::sqrt(sum_of_squares(p.data<float>(), p.numel()));
      const double n = std::sqrt(sum_of_squares(g.data<float>(), g.numel()));
      if (w > 0 && n > 0) local_lr *= options_.trust * w / (n + decay * w);
    }
    lars_step(p.data<float>(), state_.get("momentum", i), g.data<float>(), p.numel(),
              static_cast<float>(local_lr), static_cast<float>(options_.momentum), wd);
  }
}

}  // namespace tide
