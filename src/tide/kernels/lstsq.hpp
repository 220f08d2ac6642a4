// Linear least squares through LAPACK (Debian's liblapacke): the closed-form fit that the
// gradient methods of `tide fit` are checked against.
#pragma once

#include <cstdint>

namespace tide {

// x (n) = argmin ||A x - b||_2 for A (m, n) row-major and b (m), by LAPACK's dgelsd (a
// singular value decomposition; for a rank-deficient A the solution of least norm).
// Singular values below rcond times the largest are taken as zero (rcond < 0: machine
// precision times max(m, n), as NumPy's lstsq: with machine precision alone, the rounding
// of an OpenBLAS SVD leaves exactly dependent columns a singular value just above it). Returns the
// rank of A. Throws tide::Error when LAPACK does not converge.
int64_t least_squares(double* x, const double* a, const double* b, int64_t m, int64_t n,
                      double rcond = -1);

}  // namespace tide
