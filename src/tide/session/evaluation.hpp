// What an evaluation reports to the session and its hooks, whatever the task evaluated.
#pragma once

#include <cstdint>
#include <limits>

namespace tide {

struct EvalResult {
  double loss = 0;      // mean loss per example (cross-entropy; regression: its own loss)
  double accuracy = 0;  // fraction of examples whose largest logit is the label; NaN regressing
  int64_t examples = 0;
  // Regression only (NaN otherwise): the root mean squared error over every target value,
  // and R^2 (1 - residual / total sum of squares) averaged over the targets, as scikit-learn.
  double rmse = std::numeric_limits<double>::quiet_NaN();
  double r2 = std::numeric_limits<double>::quiet_NaN();
  bool regression = false;  // the task's, not read from NaNs: a diverged regression has them too
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
  double test_rmse = std::numeric_limits<double>::quiet_NaN();  // regression
  double test_r2 = std::numeric_limits<double>::quiet_NaN();
  bool regression = false;  // the evaluation was of a regression (its figures: rmse and r2)
  double eval_train_loss = std::numeric_limits<double>::quiet_NaN();
  double eval_train_accuracy = std::numeric_limits<double>::quiet_NaN();
  bool end_of_epoch = false;  // at the end of an epoch, not after a run's last step
};

}  // namespace tide
