// Matrix multiplication: C = alpha * op(A) * op(B) + beta * C, row-major, where op(X) is X
// or its transpose. With beta = 1 the product is added into C, which is how backward
// accumulates gradients without a separate pass.
#pragma once

#include <cstdint>

#include "tide/core/precision.hpp"

namespace tide {

// c: (M,N); a: (M,K), or (K,M) when trans_a; b: (K,N), or (N,K) when trans_b; bias: (N)
// or null, added to every row of the product: C = alpha * op(A) op(B) + bias + beta * C,
// then max(C, 0) when relu (fused into the GEMM: no extra pass over C).
// float runs oneDNN's matmul primitive; double runs the reference loops (oneDNN has no f64).
// Precision::bf16 multiplies bf16 roundings of A and B, accumulating in f32 (float only;
// double ignores it).
void gemm(float* c, const float* a, const float* b, bool trans_a, bool trans_b, int64_t m,
          int64_t n, int64_t k, float alpha, float beta, const float* bias = nullptr,
          bool relu = false, Precision precision = Precision::f32);
void gemm(double* c, const double* a, const double* b, bool trans_a, bool trans_b, int64_t m,
          int64_t n, int64_t k, double alpha, double beta, const double* bias = nullptr,
          bool relu = false, Precision precision = Precision::f32);

// `batch` independent products of contiguous (M,K)/(K,M), (K,N)/(N,K) and (M,N) matrices,
// one after the other in memory: c + i*M*N = op(a + i*M*K) op(b + i*K*N).
void gemm_batched(float* c, const float* a, const float* b, bool trans_a, bool trans_b,
                  int64_t batch, int64_t m, int64_t n, int64_t k, float alpha, float beta,
                  Precision precision = Precision::f32);
void gemm_batched(double* c, const double* a, const double* b, bool trans_a, bool trans_b,
                  int64_t batch, int64_t m, int64_t n, int64_t k, double alpha, double beta,
                  Precision precision = Precision::f32);

// Plain triple loop with a double accumulator, for checking the fast kernel.
template <class T>
void gemm_reference(T* c, const T* a, const T* b, bool trans_a, bool trans_b, int64_t m, int64_t n,
                    int64_t k, T alpha, T beta, const T* bias = nullptr);

}  // namespace tide
