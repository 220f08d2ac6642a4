#include "tide/optim/factory.hpp"

#include "tide/optim/adaptive.hpp"
#include "tide/optim/sgd.hpp"

namespace tide {

namespace {

std::unique_ptr<Optimizer> make_of_kind(std::vector<Variable> params, const OptimizerConfig& c) {
  const auto eps = [&](double fallback) { return c.eps > 0 ? c.eps : fallback; };
  switch (c.kind) {
    case OptimizerKind::sgd:
      return std::make_unique<Sgd>(std::move(params), SgdOptions{.lr = c.lr,
                                                                 .momentum = c.momentum,
                                                                 .dampening = c.dampening,
                                                                 .weight_decay = c.weight_decay,
                                                                 .nesterov = c.nesterov});
    case OptimizerKind::adam:
    case OptimizerKind::adamw:
      return std::make_unique<Adam>(std::move(params),
                                    AdamOptions{.lr = c.lr,
                                                .beta1 = c.beta1,
                                                .beta2 = c.beta2,
                                                .eps = eps(1e-8),
                                                .weight_decay = c.weight_decay,
                                                .decoupled = c.kind == OptimizerKind::adamw,
                                                .amsgrad = c.amsgrad});
    case OptimizerKind::rmsprop:
      return std::make_unique<RmsProp>(std::move(params),
                                       RmsPropOptions{.lr = c.lr,
                                                      .alpha = c.alpha,
                                                      .eps = eps(1e-8),
                                                      .weight_decay = c.weight_decay,
                                                      .momentum = c.momentum,
                                                      .centered = c.centered});
    case OptimizerKind::adagrad:
      return std::make_unique<Adagrad>(std::move(params),
                                       AdagradOptions{.lr = c.lr,
                                                      .lr_decay = c.lr_decay,
                                                      .eps = eps(1e-10),
                                                      .weight_decay = c.weight_decay});
    case OptimizerKind::lars:
      return std::make_unique<Lars>(std::move(params), LarsOptions{.lr = c.lr,
                                                                   .momentum = c.momentum,
                                                                   .weight_decay = c.weight_decay,
                                                                   .trust = c.trust});
  }
  TIDE_FAIL("optimizer kind {} is none of {}", static_cast<int>(c.kind),
            or_list(names_of<OptimizerKind>()));
}

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(std::vector<Variable> params, const OptimizerConfig& c) {
  std::vector<bool> decay;
  for (const Variable& p : params) decay.push_back(c.decay_1d || p.value().ndim() >= 2);
  std::unique_ptr<Optimizer> opt = make_of_kind(std::move(params), c);
  if (!c.decay_1d) opt->set_decay_mask(std::move(decay));
  return opt;
}

}  // namespace tide
