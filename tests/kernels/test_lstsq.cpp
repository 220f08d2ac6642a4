// Closed-form least squares through LAPACK: exact solutions, the normal equations on noisy
// systems, and the least-norm solution of a rank-deficient one.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "tide/core/error.hpp"
#include "tide/core/rng.hpp"
#include "tide/kernels/lstsq.hpp"

namespace tide {
namespace {

TEST(LeastSquares, SolvesAnExactSystem) {
  // Rows [1, t, t^2] for t = 0..4, b = 1 - 2t + 0.5 t^2.
  std::vector<double> a, b;
  for (int t = 0; t < 5; ++t) {
    a.insert(a.end(), {1.0, static_cast<double>(t), static_cast<double>(t * t)});
    b.push_back(1 - 2.0 * t + 0.5 * t * t);
  }
  std::vector<double> x(3);
  EXPECT_EQ(least_squares(x.data(), a.data(), b.data(), 5, 3), 3);
  EXPECT_NEAR(x[0], 1.0, 1e-12);
  EXPECT_NEAR(x[1], -2.0, 1e-12);
  EXPECT_NEAR(x[2], 0.5, 1e-12);
}

TEST(LeastSquares, ResidualIsOrthogonalToTheColumns) {
  // The normal equations A^T (b - A x) = 0 hold at the minimum of a noisy 50 x 4 system.
  RngStream rng(3, RngPurpose::test);
  const int m = 50, n = 4;
  std::vector<double> a(m * n), b(m);
  for (double& v : a) v = rng.normal();
  for (double& v : b) v = rng.normal();
  std::vector<double> x(n);
  ASSERT_EQ(least_squares(x.data(), a.data(), b.data(), m, n), n);
  for (int j = 0; j < n; ++j) {
    double dot = 0;
    for (int i = 0; i < m; ++i) {
      double r = b[i];
      for (int k = 0; k < n; ++k) r -= a[i * n + k] * x[k];
      dot += a[i * n + j] * r;
    }
    EXPECT_NEAR(dot, 0.0, 1e-10) << "column " << j;
  }
}

TEST(LeastSquares, RankDeficientGivesTheLeastNormSolution) {
  // Two equal columns: x0 + x1 = 3 is all the data says; the least-norm answer is (1.5, 1.5).
  const std::vector<double> a = {1, 1, 2, 2, 3, 3}, b = {3, 6, 9};
  std::vector<double> x(2);
  EXPECT_EQ(least_squares(x.data(), a.data(), b.data(), 3, 2), 1);
  EXPECT_NEAR(x[0], 1.5, 1e-12);
  EXPECT_NEAR(x[1], 1.5, 1e-12);
  EXPECT_THROW(least_squares(x.data(), a.data(), b.data(), 0, 2), Error);
}

TEST(LeastSquares, UnderdeterminedGivesTheLeastNormSolution) {
  // One equation, three unknowns: x0 + 2 x1 + 2 x2 = 9; least norm is (1, 2, 2).
  const std::vector<double> a = {1, 2, 2}, b = {9};
  std::vector<double> x(3);
  EXPECT_EQ(least_squares(x.data(), a.data(), b.data(), 1, 3), 1);
  EXPECT_NEAR(x[0], 1.0, 1e-12);
  EXPECT_NEAR(x[1], 2.0, 1e-12);
  EXPECT_NEAR(x[2], 2.0, 1e-12);
}

}  // namespace
}  // namespace tide
