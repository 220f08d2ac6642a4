// The fast float GEMM: oneDNN's sgemm. It takes row-major operands directly.
#include <dnnl.h>

#include "tide/core/error.hpp"
#include "tide/kernels/gemm.hpp"

namespace tide {

void gemm(float* c, const float* a, const float* b, bool trans_a, bool trans_b, int64_t m,
          int64_t n, int64_t k, float alpha, float beta) {
  if (m == 0 || n == 0) return;
  const dnnl_dim_t lda = trans_a ? m : k, ldb = trans_b ? k : n;
  const dnnl_status_t status =
      dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, std::max<int64_t>(lda, 1),
                 b, std::max<int64_t>(ldb, 1), beta, c, n);
  TIDE_CHECK(status == dnnl_success, "oneDNN sgemm failed (status {}) for M={} N={} K={}",
             static_cast<int>(status), m, n, k);
}

void gemm(double* c, const double* a, const double* b, bool trans_a, bool trans_b, int64_t m,
          int64_t n, int64_t k, double alpha, double beta) {
  gemm_reference(c, a, b, trans_a, trans_b, m, n, k, alpha, beta);
}

}  // namespace tide
