#include "tide/kernels/optim_kernels.hpp"

#include "tide/kernels/parallel.hpp"

namespace tide {

void sgd_step(float* p, float* m, const float* g, int64_t n, const SgdParams& s,
              bool first_step) {
  // Every setting is copied to a local and each case is its own loop: with a branch or a
  // struct read inside, GCC leaves the loop scalar (70 GB/s instead of cache speed).
  const float lr = s.lr, mu = s.momentum, wd = s.weight_decay, keep = 1.0f - s.dampening;
  if (mu == 0.0f) {
#pragma omp parallel for simd if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) p[i] -= lr * (g[i] + wd * p[i]);
  } else if (first_step) {
    const float look_ahead = s.nesterov ? mu : 0.0f;  // nesterov: d + mu * m, and m = d
#pragma omp parallel for simd if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) {
      const float d = g[i] + wd * p[i];
      m[i] = d;
      p[i] -= lr * (d + look_ahead * d);
    }
  } else if (s.nesterov) {
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

}  // namespace tide
