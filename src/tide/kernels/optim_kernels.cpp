#include "tide/kernels/optim_kernels.hpp"

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

}  // namespace tide
