// Loss functions, as PyTorch defines them (mean reduction).
#pragma once

#include "tide/autograd/variable.hpp"

namespace tide {

// Mean cross-entropy of logits (N, C) against integer class labels (N) in [0, C): the
// fused log-softmax and negative log-likelihood of torch.nn.functional.cross_entropy.
// With label_smoothing eps in [0, 1), the target is (1 - eps) onehot + eps / C, as
// PyTorch's label_smoothing.
Variable cross_entropy(const Variable& logits, const Tensor& labels, double label_smoothing = 0);

// Mean squared error between prediction and target of the same shape.
Variable mse_loss(const Variable& prediction, const Variable& target);

}  // namespace tide
