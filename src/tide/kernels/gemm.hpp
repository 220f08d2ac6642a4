// Matrix multiplication: C = alpha * op(A) * op(B) + beta * C, row-major, where op(X) is X
// or its transpose. With beta = 1 the product is added into C, which is how backward
// accumulates gradients without a separate pass.
#pragma once

#include <cstdint>

namespace tide {

// c: (M,N); a: (M,K), or (K,M) when trans_a; b: (K,N), or (N,K) when trans_b.
// float runs oneDNN's sgemm (AVX-512 JIT); double runs the reference loops (oneDNN has no f64).
void gemm(float* c, const float* a, const float* b, bool trans_a, bool trans_b, int64_t m,
          int64_t n, int64_t k, float alpha, float beta);
void gemm(double* c, const double* a, const double* b, bool trans_a, bool trans_b, int64_t m,
          int64_t n, int64_t k, double alpha, double beta);

// Plain triple loop with a double accumulator, for checking the fast kernel.
template <class T>
void gemm_reference(T* c, const T* a, const T* b, bool trans_a, bool trans_b, int64_t m, int64_t n,
                    int64_t k, T alpha, T beta);

}  // namespace tide
