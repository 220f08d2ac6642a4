// Evaluation of a classifier over a whole data split.
#pragma once

#include "tide/distributed/communicator.hpp"

#include <vector>

#include "tide/data/loader.hpp"
#include "tide/nn/module.hpp"
#include "tide/session/config.hpp"
#include "tide/session/evaluation.hpp"

namespace tide {

// Runs `model` in evaluation mode without recording gradients over one pass of `loader`
// (epoch 0), then restores the model's previous mode.
EvalResult evaluate(Module& model, DataLoader& loader);
// The same over the ranks of `comm`, each with its own share of the split in `loader`: the
// loss and accuracy of all their examples together, on every rank. With `confusion`, also
// this rank's counts of [true class][predicted class] (not summed over the ranks).
EvalResult evaluate(Module& model, DataLoader& loader, const Communicator& comm,
                    std::vector<std::vector<int64_t>>* confusion = nullptr);

// A regressor's evaluation over one pass of `loader` on the ranks of `comm`: the mean of
// `loss` (mse, or huber with `delta`), the RMSE over every target value and R^2 averaged over
// the targets (each 1 - residual / total sum of squares about that target's mean).
// `targets` is the number of target columns (every rank must know it, also one whose share
// of the split is empty).
EvalResult evaluate_regression(Module& model, DataLoader& loader, const Communicator& comm,
                               int64_t targets, LossKind loss, double delta);

// The number of rows of logits (N, C) whose largest entry is at the row's label (N).
int64_t count_correct(const Tensor& logits, const Tensor& labels);

}  // namespace tide
