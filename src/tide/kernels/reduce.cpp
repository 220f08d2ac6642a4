#include "tide/kernels/reduce.hpp"

#include <algorithm>
#include <vector>

#include "tide/kernels/parallel.hpp"

namespace tide {

template <class T>
double sum_all(const T* x, int64_t n) {
  double acc = 0;
#pragma omp parallel for simd reduction(+ : acc) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) acc += static_cast<double>(x[i]);
  return acc;
}

template <class T>
double dot(const T* x, const T* y, int64_t n) {
  double acc = 0;
#pragma omp parallel for simd reduction(+ : acc) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) acc += static_cast<double>(x[i]) * static_cast<double>(y[i]);
  return acc;
}

template <class T>
void sum_axis(T* y, const T* x, int64_t outer, int64_t size, int64_t inner, T alpha) {
#pragma omp parallel for if (outer * size * inner > kParallelGrain && outer > 1)
  for (int64_t o = 0; o < outer; ++o) {
    std::vector<double> acc(static_cast<size_t>(inner), 0.0);
    for (int64_t s = 0; s < size; ++s) {
      const T* row = x + (o * size + s) * inner;
#pragma omp simd
      for (int64_t i = 0; i < inner; ++i) acc[i] += static_cast<double>(row[i]);
    }
    for (int64_t i = 0; i < inner; ++i) y[o * inner + i] = static_cast<T>(alpha * acc[i]);
  }
}

template <class T>
void expand_axis(T* dx, const T* dy, int64_t outer, int64_t size, int64_t inner, T alpha,
                 bool accumulate) {
#pragma omp parallel for collapse(2) if (outer * size * inner > kParallelGrain)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t s = 0; s < size; ++s) {
      T* out = dx + (o * size + s) * inner;
      const T* in = dy + o * inner;
      if (accumulate) {
#pragma omp simd
        for (int64_t i = 0; i < inner; ++i) out[i] += alpha * in[i];
      } else {
#pragma omp simd
        for (int64_t i = 0; i < inner; ++i) out[i] = alpha * in[i];
      }
    }
  }
}

template <class T>
void sum_rows(T* y, const T* x, int64_t rows, int64_t cols, bool accumulate) {
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (cols + kBlock - 1) / kBlock;
  const int64_t threads = num_threads();
  if (rows * cols > kParallelGrain && blocks < threads && rows >= 2 * threads) {
    // Too few column blocks to share: each thread sums a range of rows, then the partial
    // sums are added (in thread order, so the result does not depend on timing).
    std::vector<T> partial(static_cast<size_t>(threads * cols), T(0));
#pragma omp parallel for num_threads(threads)
    for (int64_t t = 0; t < threads; ++t) {
      T* acc = partial.data() + t * cols;
      for (int64_t r = rows * t / threads; r < rows * (t + 1) / threads; ++r) {
        const T* row = x + r * cols;
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) acc[c] += row[c];
      }
    }
    for (int64_t c = 0; c < cols; ++c) {
      T sum = accumulate ? y[c] : T(0);
      for (int64_t t = 0; t < threads; ++t) sum += partial[t * cols + c];
      y[c] = sum;
    }
    return;
  }
  // Each thread owns a block of columns and walks all rows: contiguous reads, no atomics.
#pragma omp parallel for if (rows * cols > kParallelGrain && blocks > 1)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t c0 = b * kBlock, c1 = std::min(cols, c0 + kBlock);
    T acc[kBlock] = {};
    for (int64_t r = 0; r < rows; ++r) {
      const T* row = x + r * cols;
#pragma omp simd
      for (int64_t c = c0; c < c1; ++c) acc[c - c0] += row[c];
    }
    for (int64_t c = c0; c < c1; ++c) y[c] = accumulate ? y[c] + acc[c - c0] : acc[c - c0];
  }
}

#define TIDE_INSTANTIATE(T)                                                       \
  template double sum_all<T>(const T*, int64_t);                                  \
  template double dot<T>(const T*, const T*, int64_t);                            \
  template void sum_axis<T>(T*, const T*, int64_t, int64_t, int64_t, T);          \
  template void expand_axis<T>(T*, const T*, int64_t, int64_t, int64_t, T, bool); \
  template void sum_rows<T>(T*, const T*, int64_t, int64_t, bool);
TIDE_INSTANTIATE(float)
TIDE_INSTANTIATE(double)
#undef TIDE_INSTANTIATE

}  // namespace tide
