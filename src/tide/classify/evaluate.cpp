#include "tide/classify/evaluate.hpp"

#include <algorithm>

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

EvalResult evaluate(Module& model, DataLoader& loader) {
  return evaluate(model, loader, Communicator::solo());
}

}  // namespace tide
