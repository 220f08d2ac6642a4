#include "tide/kernels/softmax.hpp"

#include <cmath>
#include <limits>

#include "tide/core/error.hpp"
#include "tide/kernels/parallel.hpp"

namespace tide {

template <class T>
void softmax_reference(T* y, const T* x, int64_t outer, int64_t size, int64_t inner, bool log) {
#pragma omp parallel for collapse(2) if (outer * size * inner > kParallelGrain)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const T* in = x + o * size * inner + i;
      T* out = y + o * size * inner + i;
      // Subtracting the maximum keeps exp() finite for any input.
      T max = -std::numeric_limits<T>::infinity();
      for (int64_t s = 0; s < size; ++s) max = std::max(max, in[s * inner]);
      double total = 0;
      for (int64_t s = 0; s < size; ++s) {
        const T e = std::exp(in[s * inner] - max);
        out[s * inner] = e;
        total += e;
      }
      if (log) {
        const T log_total = static_cast<T>(std::log(total));
        for (int64_t s = 0; s < size; ++s) out[s * inner] = in[s * inner] - max - log_total;
      } else {
        const T inv = static_cast<T>(1.0 / total);
        for (int64_t s = 0; s < size; ++s) out[s * inner] *= inv;
      }
    }
  }
}

template <class T>
void softmax_backward_reference(T* dx, const T* dy, const T* y, int64_t outer, int64_t size,
                                int64_t inner, bool log, bool accumulate) {
#pragma omp parallel for collapse(2) if (outer * size * inner > kParallelGrain)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t base = o * size * inner + i;
      double dot = 0;  // softmax: sum(dy * y); log-softmax: sum(dy)
      for (int64_t s = 0; s < size; ++s)
        dot += log ? dy[base + s * inner] : dy[base + s * inner] * y[base + s * inner];
      for (int64_t s = 0; s < size; ++s) {
        const int64_t k = base + s * inner;
        const T g = log ? dy[k] - std::exp(y[k]) * static_cast<T>(dot)
                        : y[k] * (dy[k] - static_cast<T>(dot));
        dx[k] = accumulate ? dx[k] + g : g;
      }
    }
  }
}

template <class T>
double cross_entropy(T* probs, const T* logits, const int64_t* labels, int64_t n, int64_t classes) {
  for (int64_t r = 0; r < n; ++r)
    TIDE_CHECK(labels[r] >= 0 && labels[r] < classes,
               "cross-entropy: label {} in row {} is outside [0, {})", labels[r], r, classes);
  softmax(probs, logits, n, classes, 1, false);  // oneDNN for float
  double loss = 0;
#pragma omp parallel for reduction(+ : loss) if (n * classes > kParallelGrain)
  for (int64_t r = 0; r < n; ++r) {
    const T p = probs[r * classes + labels[r]];
    if (p > T(1e-30)) {
      loss -= std::log(static_cast<double>(p));
      continue;
    }
    // A probability this small has lost its digits; -log p from the logits keeps them:
    // log p_y = x_y - max - log(sum exp(x - max)).
    const T* row = logits + r * classes;
    T max = row[0];
    for (int64_t c = 1; c < classes; ++c) max = std::max(max, row[c]);
    double total = 0;
    for (int64_t c = 0; c < classes; ++c) total += std::exp(static_cast<double>(row[c] - max));
    loss += std::log(total) - static_cast<double>(row[labels[r]] - max);
  }
  return n > 0 ? loss / static_cast<double>(n) : 0.0;
}

template <class T>
void cross_entropy_backward(T* dlogits, const T* probs, const int64_t* labels, int64_t n,
                            int64_t classes, T scale, bool accumulate) {
#pragma omp parallel for if (n * classes > kParallelGrain)
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t c = 0; c < classes; ++c) {
      const int64_t k = r * classes + c;
      const T g = (probs[k] - (c == labels[r] ? T(1) : T(0))) * scale;
      dlogits[k] = accumulate ? dlogits[k] + g : g;
    }
  }
}

template <class T>
double mean_uniform_nll(const T* logits, int64_t n, int64_t classes) {
  double total = 0;
#pragma omp parallel for reduction(+ : total) if (n * classes > kParallelGrain)
  for (int64_t r = 0; r < n; ++r) {
    const T* row = logits + r * classes;
    T max = row[0];
    for (int64_t c = 1; c < classes; ++c) max = std::max(max, row[c]);
    double sum_exp = 0, sum = 0;
    for (int64_t c = 0; c < classes; ++c) {
      sum_exp += std::exp(static_cast<double>(row[c] - max));
      sum += static_cast<double>(row[c]);
    }
    total += static_cast<double>(max) + std::log(sum_exp) - sum / static_cast<double>(classes);
  }
  return n > 0 ? total / static_cast<double>(n) : 0.0;
}

template <class T>
void label_smoothing_backward(T* dlogits, const int64_t* labels, int64_t n, int64_t classes,
                              T scale, T eps) {
  const T uniform = scale * eps / static_cast<T>(classes);
#pragma omp parallel for if (n * classes > kParallelGrain)
  for (int64_t r = 0; r < n; ++r) {
    T* row = dlogits + r * classes;
    for (int64_t c = 0; c < classes; ++c) row[c] -= uniform;
    row[labels[r]] += scale * eps;
  }
}

void softmax(double* y, const double* x, int64_t outer, int64_t size, int64_t inner, bool log) {
  softmax_reference(y, x, outer, size, inner, log);
}

void softmax_backward(double* dx, const double* dy, const double* y, int64_t outer, int64_t size,
                      int64_t inner, bool log) {
  softmax_backward_reference(dx, dy, y, outer, size, inner, log, false);
}

#define TIDE_INSTANTIATE(T)                                                                      \
  template void softmax_reference<T>(T*, const T*, int64_t, int64_t, int64_t, bool);             \
  template void softmax_backward_reference<T>(T*, const T*, const T*, int64_t, int64_t, int64_t, \
                                              bool, bool);                                       \
  template double cross_entropy<T>(T*, const T*, const int64_t*, int64_t, int64_t);              \
  template void cross_entropy_backward<T>(T*, const T*, const int64_t*, int64_t, int64_t, T,     \
                                          bool);                                                 \
  template double mean_uniform_nll<T>(const T*, int64_t, int64_t);                               \
  template void label_smoothing_backward<T>(T*, const int64_t*, int64_t, int64_t, T, T);
TIDE_INSTANTIATE(float)
TIDE_INSTANTIATE(double)
#undef TIDE_INSTANTIATE

}  // namespace tide
