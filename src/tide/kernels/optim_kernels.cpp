#include "tide/kernels/optim_kernels.hpp"

#include "tide/kernels/parallel.hpp"

namespace tide {

void sgd_step(float* p, float* m, const float* g, int64_t n, const SgdParams& s,
              bool first_step) {
  const float lr = s.lr, mu = s.momentum, wd = s.weight_decay, keep = 1.0f - s.dampening;
  if (mu == 0.0f) {
#pragma omp parallel for simd if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) p[i] -= lr * (g[i] + wd * p[i]);
    return;
  }
  if (first_step) {
#pragma omp parallel for simd if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) {
      const float d = g[i] + wd * p[i];
      m[i] = d;
      p[i] -= lr * (s.nesterov ? d + mu * d : d);
    }
    return;
  }
#pragma omp parallel for simd if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    const float d = g[i] + wd * p[i];
    const float buf = mu * m[i] + keep * d;
    m[i] = buf;
    p[i] -= lr * (s.nesterov ? d + mu * buf : buf);
  }
}

}  // namespace tide
