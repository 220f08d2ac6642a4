// Loss functions, as PyTorch defines them (mean reduction).
#pragma once

#include "tide/autograd/variable.hpp"

namespace tide {

// Mean cross-entropy of logits (N, C) against integer class labels (N) in [0, C): the
// fused log-softmax and negative log-likelihood of torch.nn.functional.cross_entropy.
// With label_smoothing eps in [0, 1), the target is (1 - eps) onehot + eps / C, as
// PyTorch's label_smoothing.
Variable cross_entropy(const Variable& logits, const Tensor& labels, double label_smoothing = 0);

// The options of torch.nn.functional.cross_entropy beyond label smoothing.
struct CrossEntropyOptions {
  Tensor weight;                // (C): each class's weight; undefined: all 1
  int64_t ignore_index = -100;  // rows with this label add nothing, to the loss or its mean
  double label_smoothing = 0;
};

// cross_entropy with class weights and an ignored label, as PyTorch: the mean is the sum of
// w[label] * nll (and the smoothing term) over the rows not ignored, divided by the sum of
// their w[label]. Throws if every row is ignored.
Variable cross_entropy(const Variable& logits, const Tensor& labels,
                       const CrossEntropyOptions& options);

// Cross-entropy against class probabilities `targets` (N, C) in [0, 1] (rows are not
// required to sum to 1, as in PyTorch), as PyTorch's probability targets: the mean over rows of
// -sum_c w_c t_c log softmax(x)_c, the targets first smoothed to (1 - eps) t + eps / C.
Variable cross_entropy_soft(const Variable& logits, const Tensor& targets,
                            const CrossEntropyOptions& options = {});

// Mean squared error between prediction and target of the same shape.
Variable mse_loss(const Variable& prediction, const Variable& target);

// Mean Huber loss, as torch.nn.functional.huber_loss: 0.5 d^2 where |d| <= delta, else
// delta (|d| - 0.5 delta), for d = prediction - target; delta > 0. The gradient flows to the
// prediction only (the target is data).
Variable huber_loss(const Variable& prediction, const Tensor& target, double delta = 1.0);

}  // namespace tide
