#include "tide/optim/sgd.hpp"

#include <cmath>

#include "tide/kernels/optim_kernels.hpp"

namespace tide {

Sgd::Sgd(std::vector<Variable> params, SgdOptions options)
    : Optimizer(std::move(params), options.lr), options_(options), momentum_(params_.size()) {
  TIDE_CHECK(options.momentum >= 0 && options.momentum < 1 + 1e-12,
             "SGD momentum must be in [0, 1], got {}", options.momentum);
  TIDE_CHECK(options.weight_decay >= 0, "SGD weight decay must be >= 0, got {}",
             options.weight_decay);
  TIDE_CHECK(!options.nesterov || (options.momentum > 0 && options.dampening == 0),
             "Nesterov momentum needs momentum > 0 and dampening 0");
  for (const Variable& p : params_)
    TIDE_CHECK(p.dtype() == DType::f32, "SGD updates f32 parameters, got {}", p.value().str());
}

void Sgd::step() {
  const float momentum = static_cast<float>(options_.momentum);
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& g = params_[i].grad();
    if (!g.defined()) continue;
    const Tensor& p = params_[i].value();
    const bool first = momentum != 0 && !momentum_[i].defined();
    if (first) momentum_[i] = Tensor::empty(p.shape());
    sgd_step(p.data<float>(), momentum != 0 ? momentum_[i].data<float>() : nullptr, g.data<float>(),
             p.numel(), static_cast<float>(lr_), momentum, static_cast<float>(options_.dampening),
             static_cast<float>(decay_of(i, options_.weight_decay)), options_.nesterov, first);
  }
}

TensorMap Sgd::state_dict() const {
  TensorMap out;
  for (size_t i = 0; i < momentum_.size(); ++i)
    if (momentum_[i].defined()) out.emplace(fmt::format("momentum.{}", i), momentum_[i]);
  return out;
}

void Sgd::load_state_dict(const TensorMap& state) {
  std::vector<Tensor> loaded(params_.size());
  for (const auto& [name, t] : state) {
    size_t i = 0;
    TIDE_CHECK(std::sscanf(name.c_str(), "momentum.%zu", &i) == 1 && i < params_.size(),
               "SGD state has an unexpected entry '{}'", name);
    TIDE_CHECK(t.shape() == params_[i].shape() && t.dtype() == DType::f32,
               "SGD state '{}' is {}, its parameter is {}", name, t.str(),
               params_[i].value().str());
    loaded[i] = t.clone();
  }
  momentum_ = std::move(loaded);
}

}  // namespace tide
