#include "tide/optim/regularize.hpp"

#include <algorithm>
#include <cmath>

#include "tide/kernels/optim_kernels.hpp"

namespace tide {
namespace {

// The gradient of p as a writable f32 tensor of its own (a copy if it is shared).
float* own_grad(Variable& p) {
  if (!p.grad().sole_owner()) {
    Tensor g = p.grad().clone();
    p.zero_grad();
    p.accumulate_grad(g);
  }
  return p.grad().data<float>();
}

}  // namespace

double grad_norm(const std::vector<Variable>& params) {
  double sum = 0;
  for (const Variable& p : params)
    if (p.grad().defined()) sum += sum_of_squares(p.grad().data<float>(), p.numel());
  return std::sqrt(sum);
}

double clip_grad_norm(const std::vector<Variable>& params, double max_norm) {
  TIDE_CHECK(max_norm > 0, "--clip-norm must be positive, got {}", max_norm);
  const double norm = grad_norm(params);
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0)
    for (Variable p : params) {
      if (!p.grad().defined()) continue;
      scale_in_place(own_grad(p), p.numel(), static_cast<float>(coef));
    }
  return norm;
}

void clip_grad_value(const std::vector<Variable>& params, double limit) {
  TIDE_CHECK(limit > 0, "--clip-value must be positive, got {}", limit);
  const float l = static_cast<float>(limit);
  for (Variable p : params) {
    if (!p.grad().defined()) continue;
    clamp_in_place(own_grad(p), p.numel(), l);
  }
}

void add_l1_gradient(const std::vector<Variable>& params, double l1, bool skip_1d) {
  TIDE_CHECK(l1 >= 0, "--l1 must be >= 0, got {}", l1);
  if (l1 == 0) return;
  const float a = static_cast<float>(l1);
  for (Variable p : params) {
    if (!p.grad().defined() || (skip_1d && p.value().ndim() < 2)) continue;
    add_sign(own_grad(p), p.value().data<float>(), p.numel(), a);
  }
}

}  // namespace tide
