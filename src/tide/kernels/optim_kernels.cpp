#include "tide/kernels/optim_kernels.hpp"

#include <algorithm>
#include <cmath>

#include "tide/kernels/parallel.hpp"

namespace tide {

void sgd_step(float* p, float* m, const float* g, int64_t n, float lr, float momentum,
              float dampening, float weight_decay, bool nesterov, bool first_step) {
  // Each case is its own loop: with a branch inside, GCC leaves the loop scalar (70 GB/s
  // instead of the 200+ GB/s of cache).
  const float mu = momentum, wd = weight_decay, keep = 1.0f - dampening;
  if (mu == 0.0f) {
#pragma omp parallel for simd if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) p[i] -= lr * (g[i] + wd * p[i]);
  } else if (first_step) {
    const float look_ahead = nesterov ? mu : 0.0f;  // nesterov: d + mu * m, and m = d
#pragma omp parallel for simd if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) {
      const float d = g[i] + wd * p[i];
      m[i] = d;
      p[i] -= lr * (d + look_ahead * d);
    }
  } else if (nesterov) {
#pragma omp parallel for simd if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) {
      const float d = g[i] + wd * p[i];
      const float buf = mu * m[i] + keep * d;
      m[i] = buf;
      p[i] -= lr * (d + mu * buf);
    }
  } else {
#pragma omp parallel for simd if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) {
      const float d = g[i] + wd * p[i];
      const float buf = mu * m[i] + keep * d;
      m[i] = buf;
      p[i] -= lr * buf;
    }
  }
}

void adam_step(float* p, float* m, float* v, float* v_max, const float* g, int64_t n, float lr,
               float beta1, float beta2, float eps, float weight_decay, bool decoupled, int64_t t) {
  const double bc1 = 1.0 - std::pow(static_cast<double>(beta1), static_cast<double>(t));
  const double bc2 = 1.0 - std::pow(static_cast<double>(beta2), static_cast<double>(t));
  const float step = static_cast<float>(lr / bc1), root_bc2 = static_cast<float>(std::sqrt(bc2));
  const float wd = decoupled ? 0.0f : weight_decay;
  const float shrink = decoupled ? 1.0f - lr * weight_decay : 1.0f;
#pragma omp parallel for simd if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    const float pi = p[i] * shrink;
    const float d = g[i] + wd * pi;
    m[i] = beta1 * m[i] + (1.0f - beta1) * d;
    v[i] = beta2 * v[i] + (1.0f - beta2) * d * d;
    float second = v[i];
    if (v_max) second = v_max[i] = std::max(v_max[i], v[i]);
    p[i] = pi - step * m[i] / (std::sqrt(second) / root_bc2 + eps);
  }
}

void rmsprop_step(float* p, float* v, float* avg, float* buf, const float* g, int64_t n, float lr,
                  float alpha, float eps, float weight_decay, float momentum) {
#pragma omp parallel for if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    const float d = g[i] + weight_decay * p[i];
    v[i] = alpha * v[i] + (1.0f - alpha) * d * d;
    float s;
    if (avg) {
      avg[i] = alpha * avg[i] + (1.0f - alpha) * d;
      s = std::sqrt(v[i] - avg[i] * avg[i]) + eps;
    } else {
      s = std::sqrt(v[i]) + eps;
    }
    if (buf) {
      buf[i] = momentum * buf[i] + d / s;
      p[i] -= lr * buf[i];
    } else {
      p[i] -= lr * d / s;
    }
  }
}

void adagrad_step(float* p, float* sum, const float* g, int64_t n, float lr, float lr_decay,
                  float eps, float weight_decay, int64_t t) {
  const float clr = lr / (1.0f + static_cast<float>(t - 1) * lr_decay);
#pragma omp parallel for simd if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    const float d = g[i] + weight_decay * p[i];
    sum[i] += d * d;
    p[i] -= clr * d / (std::sqrt(sum[i]) + eps);
  }
}

double sum_of_squares(const float* x, int64_t n) {
  double s = 0;
#pragma omp parallel for reduction(+ : s) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
  return s;
}

void lars_step(float* p, float* b, const float* g, int64_t n, float local_lr, float momentum,
               float weight_decay) {
#pragma omp parallel for simd if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    const float d = g[i] + weight_decay * p[i];
    b[i] = momentum * b[i] + local_lr * d;
    p[i] -= b[i];
  }
}

void scale_in_place(float* g, int64_t n, float factor) {
#pragma omp parallel for simd if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) g[i] *= factor;
}

void clamp_in_place(float* g, int64_t n, float limit) {
#pragma omp parallel for simd if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) g[i] = std::min(std::max(g[i], -limit), limit);
}

void add_sign(float* g, const float* p, int64_t n, float l1) {
#pragma omp parallel for simd if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) g[i] += l1 * static_cast<float>((p[i] > 0.0f) - (p[i] < 0.0f));
}

}  // namespace tide
