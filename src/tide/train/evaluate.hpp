// Evaluation of a classifier over a whole data split.
#pragma once

#include "tide/dist/communicator.hpp"

#include <limits>
#include <vector>

#include "tide/data/loader.hpp"
#include "tide/nn/module.hpp"

namespace tide {

struct EvalResult {
  double loss = 0;      // mean cross-entropy per example
  double accuracy = 0;  // fraction of examples whose largest logit is the label
  int64_t examples = 0;
};

// What one evaluation saw, summed over the ranks: the training steps since the previous one
// (mean loss and accuracy in training mode, as the steps computed them), the test split, and,
// with --eval-train, training examples evaluated as the test split is (no dropout, no
// perturbation, batch norm's running statistics); NaN without it.
struct EpochRecord {
  double epoch = 0;  // fractional epochs trained
  int64_t step = 0;
  double train_loss = 0, train_accuracy = 0;
  double test_loss = 0, test_accuracy = 0;
  double eval_train_loss = std::numeric_limits<double>::quiet_NaN();
  double eval_train_accuracy = std::numeric_limits<double>::quiet_NaN();
};

// Runs `model` in evaluation mode without recording gradients over one pass of `loader`
// (epoch 0), then restores the model's previous mode.
EvalResult evaluate(Module& model, DataLoader& loader);
// The same over the ranks of `comm`, each with its own share of the split in `loader`: the
// loss and accuracy of all their examples together, on every rank.
EvalResult evaluate(Module& model, DataLoader& loader, const Communicator& comm);

// The number of rows of logits (N, C) whose largest entry is at the row's label (N).
int64_t count_correct(const Tensor& logits, const Tensor& labels);

}  // namespace tide
