#include "tide/autograd/ops_loss.hpp"

#include "tide/autograd/dispatch.hpp"
#include "tide/autograd/tensor_math.hpp"
#include "tide/kernels/reduce.hpp"
#include "tide/kernels/softmax.hpp"

namespace tide {

Variable cross_entropy(const Variable& logits, const Tensor& labels, double label_smoothing) {
  TIDE_CHECK(label_smoothing >= 0 && label_smoothing < 1,
             "cross_entropy: label smoothing must be in [0, 1), got {}", label_smoothing);
  TIDE_CHECK(logits.value().ndim() == 2, "cross_entropy: logits must be (N, C), got {}",
             logits.value().str());
  const int64_t n = logits.dim(0), classes = logits.dim(1);
  TIDE_CHECK(labels.dtype() == DType::i64 && labels.shape() == Shape({n}),
             "cross_entropy: labels must be i64[{}] to match logits {}, got {}", n,
             logits.value().str(), labels.str());
  TIDE_CHECK(n > 0, "cross_entropy: empty batch");
  Tensor probs = Tensor::empty(logits.shape(), logits.dtype());
  Tensor loss = Tensor::empty({}, logits.dtype());
  dispatch_float(logits.dtype(), "cross_entropy", [&]<class T>(T) {
    const double nll = cross_entropy(probs.data<T>(), logits.value().data<T>(),
                                     labels.data<int64_t>(), n, classes);
    const double smooth =
        label_smoothing > 0 ? mean_uniform_nll(logits.value().data<T>(), n, classes) : 0.0;
    loss.data<T>()[0] = static_cast<T>((1 - label_smoothing) * nll + label_smoothing * smooth);
  });
  return make_result(
      loss, {logits},
      [probs, labels, n, classes, label_smoothing](const Tensor& dy, std::vector<Variable>& in) {
        Tensor dx = Tensor::empty(probs.shape(), probs.dtype());
        dispatch_float(dy.dtype(), "cross_entropy backward", [&]<class T>(T) {
          const T scale = dy.data<T>()[0] / static_cast<T>(n);
          cross_entropy_backward(dx.data<T>(), probs.data<T>(), labels.data<int64_t>(), n, classes,
                                 scale, false);
          if (label_smoothing > 0)
            label_smoothing_backward(dx.data<T>(), labels.data<int64_t>(), n, classes, scale,
                                     static_cast<T>(label_smoothing));
        });
        in[0].accumulate_grad(dx);
      },
      "cross_entropy");
}

Variable mse_loss(const Variable& prediction, const Variable& target) {
  TIDE_CHECK(prediction.shape() == target.shape() && prediction.dtype() == target.dtype(),
             "mse_loss: prediction {} and target {} must have the same shape and dtype",
             prediction.value().str(), target.value().str());
  TIDE_CHECK(prediction.numel() > 0, "mse_loss: empty input");
  Tensor diff = binary_tensor(prediction.value(), target.value(), BinaryOp::sub);
  const double n = static_cast<double>(diff.numel());
  Tensor loss = Tensor::empty({}, diff.dtype());
  dispatch_float(diff.dtype(), "mse_loss", [&]<class T>(T) {
    loss.data<T>()[0] = static_cast<T>(dot(diff.data<T>(), diff.data<T>(), diff.numel()) / n);
  });
  return make_result(
      loss, {prediction, target},
      [diff, n](const Tensor& dy, std::vector<Variable>& in) {
        // d/dp mean((p - t)^2) = 2 (p - t) / n; the target gets the negative.
        const double g = 2.0 * dy.item() / n;
        if (in[0].requires_grad()) in[0].accumulate_grad(affine_tensor(diff, g, 0.0));
        if (in[1].requires_grad()) in[1].accumulate_grad(affine_tensor(diff, -g, 0.0));
      },
      "mse_loss");
}

}  // namespace tide
