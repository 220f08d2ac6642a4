#include "tide/kernels/lstsq.hpp"

#include <lapacke.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "tide/core/error.hpp"

namespace tide {

int64_t least_squares(double* x, const double* a, const double* b, int64_t m, int64_t n,
                      double rcond) {
  TIDE_CHECK(m > 0 && n > 0, "least squares of an empty system ({} x {})", m, n);
  TIDE_CHECK(m * n < (int64_t{1} << 31), "least squares of a {} x {} system: too large for LAPACK",
             m, n);
  // dgelsd overwrites A, and b with the solution in its first n entries (b needs max(m, n)).
  std::vector<double> a_copy(a, a + m * n), rhs(static_cast<size_t>(std::max(m, n)), 0.0);
  std::copy(b, b + m, rhs.begin());
  std::vector<double> singular(static_cast<size_t>(std::min(m, n)));
  lapack_int rank = 0;
  if (rcond < 0)
    rcond = std::numeric_limits<double>::epsilon() * static_cast<double>(std::max(m, n));
  const lapack_int info = LAPACKE_dgelsd(
      LAPACK_ROW_MAJOR, static_cast<lapack_int>(m), static_cast<lapack_int>(n), 1, a_copy.data(),
      static_cast<lapack_int>(n), rhs.data(), 1, singular.data(), rcond, &rank);
  TIDE_CHECK(info != LAPACK_WORK_MEMORY_ERROR && info != LAPACK_TRANSPOSE_MEMORY_ERROR,
             "LAPACK dgelsd: out of memory for a {} x {} system", m, n);
  TIDE_CHECK(info >= 0, "LAPACK dgelsd: argument {} was invalid (or not a number)", -info);
  TIDE_CHECK(info == 0,
             "LAPACK dgelsd: the singular value decomposition did not converge ({} "
             "off-diagonal elements)",
             info);
  std::copy(rhs.begin(), rhs.begin() + n, x);
  return rank;
}

}  // namespace tide
