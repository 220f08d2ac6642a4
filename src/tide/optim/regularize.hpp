// Gradient-side regularisation applied between backward and the optimizer step (on many
// ranks, after the gradients are averaged, so every rank does the same).
#pragma once

#include <vector>

#include "tide/autograd/variable.hpp"

namespace tide {

// The L2 norm of all the parameters' gradients together (those without one count as 0).
double grad_norm(const std::vector<Variable>& params);

// Scales every gradient by max_norm / (total norm + 1e-6) when the L2 norm of all of them
// together exceeds max_norm (torch.nn.utils.clip_grad_norm_). Returns the norm before
// clipping.
double clip_grad_norm(const std::vector<Variable>& params, double max_norm);

// Clamps every gradient element to [-limit, limit] (torch.nn.utils.clip_grad_value_).
void clip_grad_value(const std::vector<Variable>& params, double limit);

// Adds the gradient of l1 * sum |p| (l1 * sign(p), 0 at 0) to each parameter's gradient;
// with `skip_1d`, not to biases and normalisation parameters (1-D).
void add_l1_gradient(const std::vector<Variable>& params, double l1, bool skip_1d);

}  // namespace tide
