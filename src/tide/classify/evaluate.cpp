#include "tide/classify/evaluate.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tide/autograd/ops.hpp"

namespace tide {

int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  const int64_t n = logits.dim(0), classes = logits.dim(1);
  const float* p = logits.data<float>();
  const int64_t* y = labels.data<int64_t>();
  int64_t correct = 0;
  for (int64_t r = 0; r < n; ++r) {
    const float* row = p + r * classes;
    int64_t best = 0;
    for (int64_t c = 1; c < classes; ++c)
      if (row[c] > row[best]) best = c;
    correct += best == y[r];
  }
  return correct;
}

namespace {

// Adds each row of logits (N, C) to the [label][argmax] count of `confusion`.
void count_confusion(const Tensor& logits, const Tensor& labels,
                     std::vector<std::vector<int64_t>>& confusion) {
  const int64_t n = logits.dim(0), classes = logits.dim(1);
  if (confusion.empty())
    confusion.assign(static_cast<size_t>(classes),
                     std::vector<int64_t>(static_cast<size_t>(classes)));
  const float* p = logits.data<float>();
  const int64_t* y = labels.data<int64_t>();
  for (int64_t r = 0; r < n; ++r) {
    const float* row = p + r * classes;
    const int64_t best = std::max_element(row, row + classes) - row;
    ++confusion[static_cast<size_t>(y[r])][static_cast<size_t>(best)];
  }
}

}  // namespace

EvalResult evaluate(Module& model, DataLoader& loader, const Communicator& comm,
                    std::vector<std::vector<int64_t>>* confusion) {
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  // loss sum, correct, examples: summed over the ranks in f64 (exact for counts below 2^53)
  Tensor sums = Tensor::zeros({3}, DType::f64);
  double* s = sums.data<double>();
  loader.start_epoch(0);
  while (auto batch = loader.next()) {
    const Variable logits = model(Variable(batch->inputs));
    const int64_t n = batch->targets.numel();
    s[0] += cross_entropy(logits, batch->targets).value().item() * static_cast<double>(n);
    s[1] += static_cast<double>(count_correct(logits.value(), batch->targets));
    s[2] += static_cast<double>(n);
    if (confusion) count_confusion(logits.value(), batch->targets, *confusion);
  }
  model.train(was_training);
  comm.allreduce(sums, ReduceOp::sum, "the evaluation's sums");
  EvalResult r;
  r.examples = static_cast<int64_t>(s[2]);
  if (r.examples > 0) {
    r.loss = s[0] / s[2];
    r.accuracy = s[1] / s[2];
  }
  return r;
}

EvalResult evaluate_regression(Module& model, DataLoader& loader, const Communicator& comm,
                               int64_t targets, LossKind loss, double delta) {
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  // Per target j the sums of y, y^2 and the squared residual, then the loss sum and the
  // count, in double (the total sum of squares as sum y^2 - (sum y)^2 / n loses only
  // double's digits to a mean far from zero), summed over the ranks.
  TIDE_CHECK(targets > 0, "a regression needs one or more targets, got {}", targets);
  Tensor sums = Tensor::zeros({3 * targets + 2}, DType::f64);
  loader.start_epoch(0);
  while (auto batch = loader.next()) {
    const Tensor& y = batch->targets;
    const int64_t n = y.dim(0), k = y.dim(1);
    TIDE_CHECK(k == targets, "the split has {} targets, the network {}", k, targets);
    const Variable prediction = model(Variable(batch->inputs));
    TIDE_CHECK(prediction.shape() == y.shape(), "the network gives {} for targets {}",
               prediction.shape().str(), y.shape().str());
    const Variable l = loss == LossKind::huber ? huber_loss(prediction, y, delta)
                                               : mse_loss(prediction, Variable(y));
    double* s = sums.data<double>();
    const float* p = prediction.value().data<float>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < k; ++j) {
        const double v = y.data<float>()[i * k + j];
        const double r = static_cast<double>(p[i * k + j]) - y.data<float>()[i * k + j];
        s[3 * j] += v;
        s[3 * j + 1] += v * v;
        s[3 * j + 2] += r * r;
      }
    s[3 * k] += l.value().item() * static_cast<double>(n);
    s[3 * k + 1] += static_cast<double>(n);
  }
  model.train(was_training);
  comm.allreduce(sums, ReduceOp::sum, "the evaluation's sums");  // every rank, rows or none
  const double* s = sums.data<double>();
  const double n = s[3 * targets + 1];
  TIDE_CHECK(n > 0, "the evaluation split is empty");
  EvalResult r;
  r.examples = static_cast<int64_t>(n);
  r.loss = s[3 * targets] / n;
  r.accuracy = std::numeric_limits<double>::quiet_NaN();
  r.regression = true;
  double residual = 0, r2 = 0;
  for (int64_t j = 0; j < targets; ++j) {
    residual += s[3 * j + 2];
    const double total = s[3 * j + 1] - s[3 * j] * s[3 * j] / n;
    r2 += total > 0 ? 1 - s[3 * j + 2] / total : (s[3 * j + 2] == 0 ? 1.0 : 0.0);
  }
  r.rmse = std::sqrt(residual / (n * static_cast<double>(targets)));
  r.r2 = r2 / static_cast<double>(targets);
  return r;
}

EvalResult evaluate(Module& model, DataLoader& loader) {
  return evaluate(model, loader, Communicator::solo());
}

}  // namespace tide
