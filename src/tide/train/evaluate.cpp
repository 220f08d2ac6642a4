#include "tide/train/evaluate.hpp"

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

EvalResult evaluate(Module& model, DataLoader& loader) {
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  EvalResult r;
  double loss_sum = 0;
  int64_t correct = 0;
  loader.start_epoch(0);
  while (auto batch = loader.next()) {
    const Variable logits = model(Variable(batch->inputs));
    const int64_t n = batch->targets.numel();
    loss_sum += cross_entropy(logits, batch->targets).value().item() * static_cast<double>(n);
    correct += count_correct(logits.value(), batch->targets);
    r.examples += n;
  }
  model.train(was_training);
  if (r.examples > 0) {
    r.loss = loss_sum / static_cast<double>(r.examples);
    r.accuracy = static_cast<double>(correct) / static_cast<double>(r.examples);
  }
  return r;
}

}  // namespace tide
