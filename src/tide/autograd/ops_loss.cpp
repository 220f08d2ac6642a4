#include "tide/autograd/ops_loss.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

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

namespace {

// The class weights of `options` as doubles, one per class (1 when none are given).
std::vector<double> class_weights(const CrossEntropyOptions& o, int64_t classes) {
  std::vector<double> w(static_cast<size_t>(classes), 1.0);
  if (!o.weight.defined()) return w;
  TIDE_CHECK(o.weight.shape() == Shape({classes}) && o.weight.dtype() != DType::i64,
             "cross_entropy: weight must be a float tensor of {} (one per class), got {}", classes,
             o.weight.str());
  dispatch_float(o.weight.dtype(), "cross_entropy weight", [&]<class T>(T) {
    for (int64_t c = 0; c < classes; ++c) {
      w[static_cast<size_t>(c)] = static_cast<double>(o.weight.data<T>()[c]);
      TIDE_CHECK(std::isfinite(w[static_cast<size_t>(c)]) && w[static_cast<size_t>(c)] >= 0,
                 "cross_entropy: class weights must be finite and not negative, got {} for {}",
                 w[static_cast<size_t>(c)], c);
    }
  });
  return w;
}

// Row-wise log-softmax of x (N, C) in double.
std::vector<double> log_softmax_rows(const Tensor& x) {
  const int64_t n = x.dim(0), classes = x.dim(1);
  std::vector<double> out(static_cast<size_t>(n * classes));
  dispatch_float(x.dtype(), "cross_entropy", [&]<class T>(T) {
    const T* p = x.data<T>();
    for (int64_t i = 0; i < n; ++i) {
      double top = p[i * classes];
      for (int64_t c = 1; c < classes; ++c) top = std::max<double>(top, p[i * classes + c]);
      double sum = 0;
      for (int64_t c = 0; c < classes; ++c) sum += std::exp(p[i * classes + c] - top);
      const double log_sum = top + std::log(sum);
      for (int64_t c = 0; c < classes; ++c)
        out[static_cast<size_t>(i * classes + c)] = p[i * classes + c] - log_sum;
    }
  });
  return out;
}

// The loss from per-row target distributions q (N, C) over the rows where row_weight > 0:
// sum_i sum_c -q_ic log p_ic / denominator, and its gradient
// (sum_c q_ic) p_ij - q_ij, over the denominator.
Variable weighted_nll(const Variable& logits, std::vector<double> q, double denominator,
                      const char* name) {
  const int64_t n = logits.dim(0), classes = logits.dim(1);
  const std::vector<double> logp = log_softmax_rows(logits.value());
  double total = 0;
  for (size_t k = 0; k < q.size(); ++k)
    if (q[k] != 0) total -= q[k] * logp[k];
  Tensor loss = Tensor::empty({}, logits.dtype());
  dispatch_float(logits.dtype(), name,
                 [&]<class T>(T) { loss.data<T>()[0] = static_cast<T>(total / denominator); });
  return make_result(
      loss, {logits},
      [logp, q = std::move(q), n, classes, denominator](const Tensor& dy,
                                                        std::vector<Variable>& in) {
        Tensor dx = Tensor::empty({n, classes}, dy.dtype());
        dispatch_float(dy.dtype(), "cross_entropy backward", [&]<class T>(T) {
          const double scale = static_cast<double>(dy.data<T>()[0]) / denominator;
          T* g = dx.data<T>();
          for (int64_t i = 0; i < n; ++i) {
            double mass = 0;
            for (int64_t c = 0; c < classes; ++c) mass += q[static_cast<size_t>(i * classes + c)];
            for (int64_t c = 0; c < classes; ++c) {
              const size_t k = static_cast<size_t>(i * classes + c);
              g[k] = static_cast<T>(scale * (mass * std::exp(logp[k]) - q[k]));
            }
          }
        });
        in[0].accumulate_grad(dx);
      },
      name);
}

void check_logits(const Variable& logits, const double label_smoothing) {
  TIDE_CHECK(label_smoothing >= 0 && label_smoothing < 1,
             "cross_entropy: label smoothing must be in [0, 1), got {}", label_smoothing);
  TIDE_CHECK(logits.value().ndim() == 2 && logits.dim(0) > 0,
             "cross_entropy: logits must be (N, C) with N > 0, got {}", logits.value().str());
}

}  // namespace

Variable cross_entropy(const Variable& logits, const Tensor& labels, const CrossEntropyOptions& o) {
  check_logits(logits, o.label_smoothing);
  const int64_t n = logits.dim(0), classes = logits.dim(1);
  TIDE_CHECK(labels.dtype() == DType::i64 && labels.shape() == Shape({n}),
             "cross_entropy: labels must be i64[{}] to match logits {}, got {}", n,
             logits.value().str(), labels.str());
  const std::vector<double> w = class_weights(o, classes);
  const double eps = o.label_smoothing;
  double weight_sum = 0;
  // Each row's target distribution, weighted: (1 - eps) w_y onehot_y + eps / C w.
  std::vector<double> q(static_cast<size_t>(n * classes), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t y = labels.data<int64_t>()[i];
    if (y == o.ignore_index) continue;
    TIDE_CHECK(y >= 0 && y < classes, "cross_entropy: label {} in row {} is outside [0, {})", y, i,
               classes);
    weight_sum += w[static_cast<size_t>(y)];
    q[static_cast<size_t>(i * classes + y)] += (1 - eps) * w[static_cast<size_t>(y)];
    if (eps > 0)
      for (int64_t c = 0; c < classes; ++c)
        q[static_cast<size_t>(i * classes + c)] +=
            eps / static_cast<double>(classes) * w[static_cast<size_t>(c)];
  }
  TIDE_CHECK(
      weight_sum > 0,
      "cross_entropy: every row is ignored (label {}) or has weight 0; the mean is undefined",
      o.ignore_index);
  return weighted_nll(logits, std::move(q), weight_sum, "cross_entropy");
}

Variable cross_entropy_soft(const Variable& logits, const Tensor& targets,
                            const CrossEntropyOptions& o) {
  check_logits(logits, o.label_smoothing);
  const int64_t n = logits.dim(0), classes = logits.dim(1);
  TIDE_CHECK(targets.shape() == logits.shape() && targets.dtype() != DType::i64,
             "cross_entropy: probability targets must be a float tensor of {}, got {}",
             logits.shape().str(), targets.str());
  const std::vector<double> w = class_weights(o, classes);
  const double eps = o.label_smoothing;
  std::vector<double> q(static_cast<size_t>(n * classes));
  dispatch_float(targets.dtype(), "cross_entropy targets", [&]<class T>(T) {
    for (int64_t k = 0; k < n * classes; ++k) {
      const double t = static_cast<double>(targets.data<T>()[k]);
      TIDE_CHECK(std::isfinite(t) && t >= 0 && t <= 1,
                 "cross_entropy: probability target {} at row {}, class {} is outside [0, 1]", t,
                 k / classes, k % classes);
      q[static_cast<size_t>(k)] = ((1 - eps) * t + eps / static_cast<double>(classes)) *
                                  w[static_cast<size_t>(k % classes)];
    }
  });
  return weighted_nll(logits, std::move(q), static_cast<double>(n), "cross_entropy_soft");
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

Variable huber_loss(const Variable& prediction, const Tensor& target, double delta) {
  TIDE_CHECK(delta > 0 && std::isfinite(delta), "huber_loss: delta must be positive, got {}",
             delta);
  TIDE_CHECK(prediction.shape() == target.shape() && prediction.dtype() == target.dtype(),
             "huber_loss: prediction {} and target {} must have the same shape and dtype",
             prediction.value().str(), target.str());
  TIDE_CHECK(prediction.numel() > 0, "huber_loss: empty input");
  Tensor diff = binary_tensor(prediction.value(), target, BinaryOp::sub);
  const int64_t n = diff.numel();
  Tensor loss = Tensor::empty({}, diff.dtype());
  dispatch_float(diff.dtype(), "huber_loss", [&]<class T>(T) {
    const T* d = diff.data<T>();
    double total = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double a = std::abs(static_cast<double>(d[i]));
      total += a <= delta ? 0.5 * a * a : delta * (a - 0.5 * delta);
    }
    loss.data<T>()[0] = static_cast<T>(total / static_cast<double>(n));
  });
  return make_result(
      loss, {prediction},
      [diff, n, delta](const Tensor& dy, std::vector<Variable>& in) {
        // d/dp: d within delta, delta sign(d) beyond, over n.
        Tensor dx = Tensor::empty(diff.shape(), diff.dtype());
        dispatch_float(diff.dtype(), "huber_loss backward", [&]<class T>(T) {
          const double g = static_cast<double>(dy.data<T>()[0]) / static_cast<double>(n);
          const T* d = diff.data<T>();
          T* out = dx.data<T>();
          for (int64_t i = 0; i < n; ++i) {
            const double v = static_cast<double>(d[i]);
            out[i] = static_cast<T>(g * std::clamp(v, -delta, delta));
          }
        });
        in[0].accumulate_grad(dx);
      },
      "huber_loss");
}

}  // namespace tide
