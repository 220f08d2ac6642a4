// kernels: the oneDNN GEMM against the reference loops, broadcasting against a naive
// index walk, and the fused SGD update against PyTorch's rule written out plainly.
#include <cmath>
#include <limits>
#include <tuple>

#include <gtest/gtest.h>

#include "tide/core/error.hpp"
#include "tide/core/rng.hpp"
#include "tide/kernels/copy.hpp"
#include "tide/kernels/elementwise.hpp"
#include "tide/kernels/gemm.hpp"
#include "tide/kernels/optim_kernels.hpp"
#include "tide/kernels/reduce.hpp"
#include "tide/kernels/softmax.hpp"

namespace tide {
namespace {

std::vector<float> random_vector(size_t n, RngStream& rng) {
  std::vector<float> v(n);
  for (float& x : v) x = 2 * rng.uniform() - 1;
  return v;
}

TEST(Gemm, OneDnnMatchesReferenceOnOddShapes) {
  RngStream rng(1, RngPurpose::test);
  const int64_t sizes[] = {1, 3, 17, 64, 129};
  for (int64_t m : sizes)
    for (int64_t n : {1L, 10L, 63L, 257L})
      for (int64_t k : {1L, 5L, 100L, 1024L})
        for (int t = 0; t < 4; ++t) {
          const bool ta = t & 1, tb = t & 2;
          const auto a = random_vector(m * k, rng), b = random_vector(k * n, rng);
          auto c0 = random_vector(m * n, rng);
          auto fast = c0, ref = c0;
          const float beta = (m + n) % 2 ? 1.0f : 0.0f;
          const auto bias = random_vector(n, rng);
          const float* b_ptr = (m + k) % 3 == 0 ? bias.data() : nullptr;
          gemm(fast.data(), a.data(), b.data(), ta, tb, m, n, k, 1.0f, beta, b_ptr);
          gemm_reference(ref.data(), a.data(), b.data(), ta, tb, m, n, k, 1.0f, beta, b_ptr);
          for (size_t i = 0; i < fast.size(); ++i)
            ASSERT_NEAR(fast[i], ref[i], 2e-6f * static_cast<float>(k) + 1e-6f)
                << "m=" << m << " n=" << n << " k=" << k << " ta=" << ta << " tb=" << tb;
        }
}

TEST(Gemm, BatchedMatchesReferencePerMatrix) {
  RngStream rng(6, RngPurpose::test);
  const int64_t batch = 5, m = 7, n = 9, k = 33;
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    const auto a = random_vector(batch * m * k, rng), b = random_vector(batch * k * n, rng);
    std::vector<float> c(batch * m * n), ref(batch * m * n);
    gemm_batched(c.data(), a.data(), b.data(), ta, tb, batch, m, n, k, 1.0f, 0.0f);
    for (int64_t i = 0; i < batch; ++i)
      gemm_reference(ref.data() + i * m * n, a.data() + i * m * k, b.data() + i * k * n, ta, tb, m,
                     n, k, 1.0f, 0.0f);
    for (size_t i = 0; i < c.size(); ++i) ASSERT_NEAR(c[i], ref[i], 1e-4f) << "t=" << t;
  }
}

TEST(Gemm, BetaZeroIgnoresNaNAndAlphaScales) {
  const std::vector<float> a{1, 2, 3, 4}, b{1, 0, 0, 1};  // b is the identity
  std::vector<float> c(4, std::numeric_limits<float>::quiet_NaN());
  gemm(c.data(), a.data(), b.data(), false, false, 2, 2, 2, 2.0f, 0.0f);
  EXPECT_EQ(c, (std::vector<float>{2, 4, 6, 8}));
  gemm(c.data(), a.data(), b.data(), true, false, 2, 2, 2, 1.0f, 1.0f);  // adds a^T
  EXPECT_EQ(c, (std::vector<float>{3, 7, 8, 12}));
}

// Naive broadcasting: the flat index of out, mapped into an input by its shape.
int64_t source_index(int64_t flat, const Shape& out, const Shape& in) {
  int64_t idx = 0, stride = 1;
  for (int d = out.ndim() - 1, e = in.ndim() - 1; d >= 0; --d, --e) {
    const int64_t coord = flat % out.dims()[d];
    flat /= out.dims()[d];
    if (e >= 0) {
      if (in.dims()[e] != 1) idx += coord * stride;
      stride *= in.dims()[e];
    }
  }
  return idx;
}

TEST(Elementwise, BroadcastingMatchesNaiveIndexing) {
  RngStream rng(2, RngPurpose::test);
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{5, 7}, {5, 7}},    {{5, 7}, {}},          {{}, {5, 7}},           {{5, 7}, {7}},
      {{5, 7}, {5, 1}},    {{2, 3, 4}, {3, 1}},   {{2, 1, 4}, {1, 3, 1}}, {{2, 3, 4, 5}, {3, 1, 5}},
      {{200, 300}, {300}}, {{300, 200}, {300, 1}}};
  for (const auto& [sa, sb] : cases) {
    const Shape so = broadcast_shapes(sa, sb);
    const auto a = random_vector(sa.numel(), rng), b0 = random_vector(sb.numel(), rng);
    std::vector<float> b = b0;
    for (float& x : b) x = x < 0 ? x - 0.5f : x + 0.5f;  // away from 0 for div
    for (BinaryOp op : {BinaryOp::add, BinaryOp::sub, BinaryOp::mul, BinaryOp::div}) {
      std::vector<float> out(so.numel());
      binary(out.data(), a.data(), b.data(), so, sa, sb, op);
      for (int64_t i = 0; i < so.numel(); ++i) {
        const float x = a[source_index(i, so, sa)], y = b[source_index(i, so, sb)];
        const float want = op == BinaryOp::add   ? x + y
                           : op == BinaryOp::sub ? x - y
                           : op == BinaryOp::mul ? x * y
                                                 : x / y;
        ASSERT_FLOAT_EQ(out[i], want)
            << sa.str() << " op " << static_cast<int>(op) << " " << sb.str();
      }
    }
    // The backward of broadcasting sums back to each input's shape.
    std::vector<double> grad(so.numel()), reduced(sb.numel()), naive(sb.numel(), 0.0);
    for (int64_t i = 0; i < so.numel(); ++i) grad[i] = std::sin(static_cast<double>(i));
    sum_to_shape(reduced.data(), grad.data(), sb, so);
    for (int64_t i = 0; i < so.numel(); ++i) naive[source_index(i, so, sb)] += grad[i];
    for (int64_t i = 0; i < sb.numel(); ++i) ASSERT_NEAR(reduced[i], naive[i], 1e-12);
  }
}

TEST(Elementwise, UnaryAndDerivativesOnTheParallelPath) {
  const int64_t n = 100000;  // above kParallelGrain
  std::vector<double> x(n), y(n), dy(n, 1.0), dx(n, 5.0);
  for (int64_t i = 0; i < n; ++i) x[i] = 0.25 + 1e-5 * static_cast<double>(i);
  unary(y.data(), x.data(), n, UnaryOp::log);
  unary_backward(dx.data(), dy.data(), x.data(), y.data(), n, UnaryOp::log, true);
  for (int64_t i = 0; i < n; i += 997) {
    EXPECT_DOUBLE_EQ(y[i], std::log(x[i]));
    EXPECT_DOUBLE_EQ(dx[i], 5.0 + 1.0 / x[i]);
  }
  unary(y.data(), x.data(), n, UnaryOp::tanh);
  unary_backward(dx.data(), dy.data(), x.data(), y.data(), n, UnaryOp::tanh, false);
  for (int64_t i = 0; i < n; i += 997)
    EXPECT_NEAR(dx[i], 1.0 / std::pow(std::cosh(x[i]), 2), 1e-12);
}

TEST(Reduce, FloatSumsAccumulateInDouble) {
  const std::vector<float> v(1000000, 0.1f);
  EXPECT_NEAR(sum_all(v.data(), static_cast<int64_t>(v.size())), 100000.0, 1.0);
  const std::vector<float> x{1, 2, 3, 4, 5, 6};  // (2, 3)
  std::vector<float> cols{10, 10, 10};
  sum_rows(cols.data(), x.data(), 2, 3, true);
  EXPECT_EQ(cols, (std::vector<float>{15, 17, 19}));
  std::vector<float> mid(2);
  sum_axis(mid.data(), x.data(), 1, 3, 2, 0.5f);  // (1, 3, 2) summed over the 3
  EXPECT_EQ(mid, (std::vector<float>{4.5f, 6.0f}));
}

TEST(Reduce, SumRowsMatchesADoubleSumForEveryShapeOfWork) {
  // Narrow (rows split among threads), wide (column blocks) and small (one thread) inputs.
  for (auto [rows, cols] :
       {std::pair<int64_t, int64_t>{3001, 7}, {2048, 128}, {257, 1030}, {5, 3}}) {
    std::vector<double> x(static_cast<size_t>(rows * cols));
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<double>((i * 7919) % 101) - 50;
    std::vector<double> y(static_cast<size_t>(cols), 1.0), expected(static_cast<size_t>(cols), 1.0);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) expected[c] += x[r * cols + c];
    sum_rows(y.data(), x.data(), rows, cols, true);
    EXPECT_EQ(y, expected) << rows << " x " << cols;
  }
}

TEST(Copy, PermuteMatchesIndexArithmeticOnLargeOddShapes) {
  // Big enough to run on every thread, with the rows split mid-way through outer axes.
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int>>> cases{
      {{5, 33, 3, 7, 9}, {2, 0, 3, 1, 4}},  // attention's (B, T, 3, H, D) -> (3, B, H, T, D)
      {{37, 41, 29}, {2, 1, 0}},            // innermost axis strided
      {{3, 1, 4, 1, 5, 9, 2}, {6, 5, 4, 3, 2, 1, 0}},
      {{1000, 65}, {1, 0}}};
  for (const auto& [shape, perm] : cases) {
    const int nd = static_cast<int>(shape.size());
    int64_t total = 1;
    for (int64_t d : shape) total *= d;
    std::vector<double> src(static_cast<size_t>(total)), dst(src.size());
    for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<double>(i);
    permute(dst.data(), src.data(), shape, perm);
    std::vector<int64_t> strides(static_cast<size_t>(nd), 1), dst_shape(static_cast<size_t>(nd));
    for (int i = nd - 2; i >= 0; --i) strides[i] = strides[i + 1] * shape[i + 1];
    for (int i = 0; i < nd; ++i) dst_shape[i] = shape[perm[i]];
    for (int64_t at = 0; at < total; ++at) {  // dst index -> src offset, digit by digit
      int64_t rest = at, offset = 0;
      for (int i = nd - 1; i >= 0; --i) {
        offset += (rest % dst_shape[i]) * strides[perm[i]];
        rest /= dst_shape[i];
      }
      ASSERT_EQ(dst[at], src[offset]) << "element " << at << " of case with " << nd << " dims";
    }
  }
}

TEST(Softmax, StableForLargeInputsAndNormalised) {
  const std::vector<float> x{1000, 1001, 1002, -5, 0, 5};
  std::vector<float> p(6), lp(6);
  softmax(p.data(), x.data(), 2, 3, 1, false);
  softmax(lp.data(), x.data(), 2, 3, 1, true);
  for (int r = 0; r < 2; ++r) EXPECT_NEAR(p[3 * r] + p[3 * r + 1] + p[3 * r + 2], 1.0f, 1e-6f);
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(std::log(p[i]), lp[i], 1e-5f);
  EXPECT_NEAR(p[2], 1.0 / (1.0 + std::exp(-1.0) + std::exp(-2.0)), 1e-6);
}

TEST(Softmax, OneDnnMatchesReference) {
  RngStream rng(8, RngPurpose::test);
  for (auto [outer, size, inner] :
       {std::tuple{7, 13, 1}, std::tuple{3, 5, 4}, std::tuple{128, 64, 1}})
    for (bool log : {false, true}) {
      const int64_t n = outer * size * inner;
      const auto x = random_vector(n, rng), dy = random_vector(n, rng);
      std::vector<float> y(n), y_ref(n), dx(n), dx_ref(n);
      softmax(y.data(), x.data(), outer, size, inner, log);
      softmax_reference(y_ref.data(), x.data(), outer, size, inner, log);
      softmax_backward(dx.data(), dy.data(), y.data(), outer, size, inner, log);
      softmax_backward_reference(dx_ref.data(), dy.data(), y_ref.data(), outer, size, inner, log,
                                 false);
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_NEAR(y[i], y_ref[i], 2e-6f * (1 + std::abs(y_ref[i]))) << "log=" << log;
        ASSERT_NEAR(dx[i], dx_ref[i], 1e-5f) << "log=" << log;
      }
    }
}

TEST(Softmax, CrossEntropyByHand) {
  const std::vector<double> logits{0, 0, std::log(2.0)};  // probabilities 1/4, 1/4, 1/2
  const std::vector<int64_t> label{2};
  std::vector<double> probs(3), d(3);
  EXPECT_NEAR(cross_entropy(probs.data(), logits.data(), label.data(), 1, 3), std::log(2.0), 1e-12);
  cross_entropy_backward(d.data(), probs.data(), label.data(), 1, 3, 1.0, false);
  EXPECT_NEAR(d[0], 0.25, 1e-12);
  EXPECT_NEAR(d[2], -0.5, 1e-12);
  const std::vector<int64_t> bad{3};
  EXPECT_THROW(cross_entropy(probs.data(), logits.data(), bad.data(), 1, 3), Error);
}

// torch.optim.SGD's rule, one element at a time.
void sgd_reference(std::vector<float>& p, std::vector<float>& m, const std::vector<float>& g,
                   float lr, float mu, float damp, float wd, bool nesterov, bool first) {
  for (size_t i = 0; i < p.size(); ++i) {
    float d = g[i] + wd * p[i];
    if (mu != 0) {
      m[i] = first ? d : mu * m[i] + (1 - damp) * d;
      d = nesterov ? d + mu * m[i] : m[i];
    }
    p[i] = p[i] - lr * d;
  }
}

TEST(OptimKernels, SgdStepFollowsPyTorchsRule) {
  RngStream rng(3, RngPurpose::test);
  struct Case {
    float mu, damp, wd;
    bool nesterov;
  };
  for (const Case c :
       {Case{0, 0, 0, false}, Case{0.9f, 0, 0, false}, Case{0.9f, 0.3f, 0, false},
        Case{0.9f, 0, 0, true}, Case{0.8f, 0, 1e-2f, true}, Case{0, 0, 0.1f, false}}) {
    const size_t n = 70000;
    std::vector<float> p = random_vector(n, rng), m(n), pr = p, mr(n);
    for (int step = 0; step < 3; ++step) {
      const auto g = random_vector(n, rng);
      sgd_step(p.data(), c.mu != 0 ? m.data() : nullptr, g.data(), static_cast<int64_t>(n), 0.1f,
               c.mu, c.damp, c.wd, c.nesterov, step == 0);
      sgd_reference(pr, mr, g, 0.1f, c.mu, c.damp, c.wd, c.nesterov, step == 0);
    }
    for (size_t i = 0; i < n; ++i) ASSERT_NEAR(p[i], pr[i], 1e-6f) << "momentum " << c.mu;
  }
}

}  // namespace
}  // namespace tide
