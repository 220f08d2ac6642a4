// The bf16 paths of the GEMM and the convolution. A bf16 product of bf16 numbers is exact
// in f32, so oneDNN's result must equal the reference loops run on the operands rounded to
// bf16 (round to nearest even), up to f32 accumulation error; and it must differ from the
// f32 product of the unrounded operands by about bf16's rounding, which shows that bf16
// was used at all. They run where bf16 is native (AVX512_BF16, AMX); elsewhere autocast
// falls back to f32 and never asks the kernels for bf16 (tests/session/test_precision.cpp).
#include <bit>
#include <cmath>

#include <gtest/gtest.h>

#include "support/testing.hpp"

#include "tide/core/rng.hpp"
#include "tide/kernels/conv.hpp"
#include "tide/kernels/cpu.hpp"
#include "tide/kernels/gemm.hpp"

namespace tide {
namespace {

using testing::expect_close;
using testing::random_floats;

// x rounded to the nearest bf16 (ties to even), as a float. The inputs here are finite.
float to_bf16(float x) {
  uint32_t u = std::bit_cast<uint32_t>(x);
  u += 0x7fffu + ((u >> 16) & 1u);
  return std::bit_cast<float>(u & 0xffff0000u);
}
std::vector<float> rounded(std::vector<float> v) {
  for (float& x : v) x = to_bf16(x);
  return v;
}
double max_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(double(a[i]) - b[i]));
  return d;
}

TEST(Bf16, ProcessorIsNamed) {
  EXPECT_FALSE(cpu_isa_name().empty());
  if (bf16_native()) EXPECT_NE(cpu_isa_name().find("avx512_core_"), std::string::npos);
}

TEST(Bf16, GemmIsTheExactProductOfRoundedOperands) {
  if (!bf16_native()) GTEST_SKIP() << "no native bf16 here: oneDNN uses " << cpu_isa_name();
  RngStream rng(11, RngPurpose::test);
  for (int64_t m : {1L, 17L, 64L})
    for (int64_t n : {10L, 63L, 256L})
      for (int64_t k : {5L, 100L, 784L})
        for (int t = 0; t < 4; ++t) {
          const bool ta = t & 1, tb = t & 2, relu = (m + n) % 2 == 0;
          const auto a = random_floats(m * k, rng), b = random_floats(k * n, rng);
          const auto bias = random_floats(n, rng), c0 = random_floats(m * n, rng);
          const float beta = k == 100 ? 1.0f : 0.0f;
          auto fast = c0, ref = c0, f32 = c0;
          gemm(fast.data(), a.data(), b.data(), ta, tb, m, n, k, 1.0f, beta, bias.data(), relu,
               Precision::bf16);
          gemm(f32.data(), a.data(), b.data(), ta, tb, m, n, k, 1.0f, beta, bias.data(), relu);
          const auto ra = rounded(a), rb = rounded(b);
          gemm_reference(ref.data(), ra.data(), rb.data(), ta, tb, m, n, k, 1.0f, beta,
                         bias.data());
          if (relu)
            for (float& x : ref) x = std::max(x, 0.0f);
          const std::string what = fmt::format("m={} n={} k={} ta={} tb={}", m, n, k, ta, tb);
          expect_close(fast, ref, 2e-6 * static_cast<double>(k) + 1e-6, what);
          if (k >= 100 && m * n >= 640)  // bf16's rounding shows in a long enough sum
            EXPECT_GT(max_difference(fast, f32), 1e-3) << what;
        }
}

TEST(Bf16, BatchedGemmIsTheExactProductOfRoundedOperands) {
  if (!bf16_native()) GTEST_SKIP() << "no native bf16 here: oneDNN uses " << cpu_isa_name();
  RngStream rng(12, RngPurpose::test);
  const int64_t batch = 8, m = 64, n = 64, k = 32;  // attention's (B*H, T, D) products
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    const auto a = random_floats(batch * m * k, rng), b = random_floats(batch * k * n, rng);
    std::vector<float> c(batch * m * n), f32(c.size()), ref(c.size());
    gemm_batched(c.data(), a.data(), b.data(), ta, tb, batch, m, n, k, 0.125f, 0.0f,
                 Precision::bf16);
    gemm_batched(f32.data(), a.data(), b.data(), ta, tb, batch, m, n, k, 0.125f, 0.0f);
    const auto ra = rounded(a), rb = rounded(b);
    for (int64_t i = 0; i < batch; ++i)
      gemm_reference(ref.data() + i * m * n, ra.data() + i * m * k, rb.data() + i * k * n, ta, tb,
                     m, n, k, 0.125f, 0.0f);
    expect_close(c, ref, 1e-5, fmt::format("t={}", t));
    EXPECT_GT(max_difference(c, f32), 1e-4) << "t=" << t;
  }
}

TEST(Bf16, ConvolutionPassesAreExactProductsOfRoundedOperands) {
  if (!bf16_native()) GTEST_SKIP() << "no native bf16 here: oneDNN uses " << cpu_isa_name();
  RngStream rng(13, RngPurpose::test);
  for (int trial = 0; trial < 12; ++trial) {
    ConvGeometry g;
    g.compute = Precision::bf16;
    g.groups = 1 + static_cast<int64_t>(rng.below(2));
    g.n = 1 + static_cast<int64_t>(rng.below(3));
    g.c_in = g.groups * (1 + static_cast<int64_t>(rng.below(16)));
    g.c_out = g.groups * (1 + static_cast<int64_t>(rng.below(32)));
    g.kh = 1 + static_cast<int64_t>(rng.below(5)), g.kw = 1 + static_cast<int64_t>(rng.below(5));
    g.stride_h = 1 + static_cast<int64_t>(rng.below(2)), g.stride_w = g.stride_h;
    g.pad_h = static_cast<int64_t>(rng.below(3)), g.pad_w = static_cast<int64_t>(rng.below(3));
    g.h = g.kh + static_cast<int64_t>(rng.below(12)),
    g.w = g.kw + static_cast<int64_t>(rng.below(12));
    const std::string what = fmt::format("trial {}", trial);
    const int64_t y_size = g.n * g.c_out * g.out_h() * g.out_w();
    const auto x = random_floats(g.n * g.c_in * g.h * g.w, rng);
    const auto w = random_floats(g.c_out * (g.c_in / g.groups) * g.kh * g.kw, rng);
    const auto b = random_floats(g.c_out, rng);
    const auto dy = random_floats(y_size, rng);
    const auto rx = rounded(x), rw = rounded(w), rdy = rounded(dy);
    const double tol = 1e-5 * static_cast<double>(g.c_in * g.kh * g.kw + g.n * y_size / g.c_out);

    std::vector<float> y(y_size), y_ref(y_size);
    conv2d_forward(y.data(), x.data(), w.data(), b.data(), g);
    conv2d_forward_reference(y_ref.data(), rx.data(), rw.data(), b.data(), g);
    expect_close(y, y_ref, tol, what + " forward");

    std::vector<float> dx(x.size()), dx_ref(x.size());
    conv2d_backward_data(dx.data(), dy.data(), w.data(), g);
    conv2d_backward_data_reference(dx_ref.data(), rdy.data(), rw.data(), g);
    expect_close(dx, dx_ref, tol, what + " backward data");

    std::vector<float> dw(w.size()), dw_ref(w.size()), db(b.size()), db_ref(b.size());
    conv2d_backward_weights(dw.data(), db.data(), dy.data(), x.data(), g);
    conv2d_backward_weights_reference(dw_ref.data(), db_ref.data(), rdy.data(), rx.data(), g);
    expect_close(dw, dw_ref, tol, what + " backward weights");
    // oneDNN sums the bias gradient from the bf16 dy it reads.
    expect_close(db, db_ref, tol, what + " backward bias");

    std::vector<float> y32(y_size);
    ConvGeometry g32 = g;
    g32.compute = Precision::f32;
    conv2d_forward(y32.data(), x.data(), w.data(), b.data(), g32);
    if (g.c_in * g.kh * g.kw >= 50) EXPECT_GT(max_difference(y, y32), 1e-4) << what;
  }
}

}  // namespace
}  // namespace tide
