#include "tide/kernels/gemm.hpp"
#include "tide/kernels/parallel.hpp"

namespace tide {

template <class T>
void gemm_reference(T* c, const T* a, const T* b, bool trans_a, bool trans_b, int64_t m, int64_t n,
                    int64_t k, T alpha, T beta, const T* bias) {
#pragma omp parallel for if (m * n * k > kParallelGrain)
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t p = 0; p < k; ++p) {
        const T x = trans_a ? a[p * m + i] : a[i * k + p];
        const T y = trans_b ? b[j * k + p] : b[p * n + j];
        acc += static_cast<double>(x) * static_cast<double>(y);
      }
      // beta == 0 must ignore C entirely (it may hold uninitialised memory or NaN).
      const T prev = beta == T(0) ? T(0) : beta * c[i * n + j];
      c[i * n + j] = static_cast<T>(alpha * acc) + (bias ? bias[j] : T(0)) + prev;
    }
  }
}

template void gemm_reference<float>(float*, const float*, const float*, bool, bool, int64_t,
                                    int64_t, int64_t, float, float, const float*);
template void gemm_reference<double>(double*, const double*, const double*, bool, bool, int64_t,
                                     int64_t, int64_t, double, double, const double*);

}  // namespace tide
