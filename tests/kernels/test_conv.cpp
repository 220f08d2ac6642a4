// The oneDNN convolution against the reference loops, on random geometries with odd sizes,
// strides, padding, dilation and groups, for all three passes.
#include <cmath>

#include <gtest/gtest.h>

#include "support/testing.hpp"

#include "tide/core/error.hpp"
#include "tide/core/rng.hpp"
#include "tide/kernels/conv.hpp"

namespace tide {
namespace {

using testing::expect_close;
using testing::random_floats;

TEST(Conv, OneDnnMatchesReferenceOnRandomGeometries) {
  RngStream rng(5, RngPurpose::test);
  for (int trial = 0; trial < 40; ++trial) {
    ConvGeometry g;
    g.groups = 1 + static_cast<int64_t>(rng.below(3));
    g.n = 1 + static_cast<int64_t>(rng.below(3));
    g.c_in = g.groups * (1 + static_cast<int64_t>(rng.below(5)));
    g.c_out = g.groups * (1 + static_cast<int64_t>(rng.below(5)));
    g.kh = 1 + static_cast<int64_t>(rng.below(5)), g.kw = 1 + static_cast<int64_t>(rng.below(5));
    g.stride_h = 1 + static_cast<int64_t>(rng.below(3));
    g.stride_w = 1 + static_cast<int64_t>(rng.below(3));
    g.dilation_h = 1 + static_cast<int64_t>(rng.below(2));
    g.dilation_w = 1 + static_cast<int64_t>(rng.below(2));
    g.pad_h = static_cast<int64_t>(rng.below(3)), g.pad_w = static_cast<int64_t>(rng.below(3));
    g.h = g.dilation_h * (g.kh - 1) + 1 + static_cast<int64_t>(rng.below(9));
    g.w = g.dilation_w * (g.kw - 1) + 1 + static_cast<int64_t>(rng.below(9));
    const std::string what = "trial " + std::to_string(trial);
    const int64_t y_size = g.n * g.c_out * g.out_h() * g.out_w();
    const auto x = random_floats(g.n * g.c_in * g.h * g.w, rng);
    const auto w = random_floats(g.c_out * (g.c_in / g.groups) * g.kh * g.kw, rng);
    const auto b = random_floats(g.c_out, rng);
    const auto dy = random_floats(y_size, rng);
    const double tol = 1e-5 * static_cast<double>(g.c_in * g.kh * g.kw + g.n * y_size / g.c_out);

    std::vector<float> y(y_size), y_ref(y_size);
    conv2d_forward(y.data(), x.data(), w.data(), b.data(), g);
    conv2d_forward_reference(y_ref.data(), x.data(), w.data(), b.data(), g);
    expect_close(y, y_ref, tol, what + " forward");

    std::vector<float> dx(x.size()), dx_ref(x.size());
    conv2d_backward_data(dx.data(), dy.data(), w.data(), g);
    conv2d_backward_data_reference(dx_ref.data(), dy.data(), w.data(), g);
    expect_close(dx, dx_ref, tol, what + " backward data");

    std::vector<float> dw(w.size()), dw_ref(w.size()), db(b.size()), db_ref(b.size());
    conv2d_backward_weights(dw.data(), db.data(), dy.data(), x.data(), g);
    conv2d_backward_weights_reference(dw_ref.data(), db_ref.data(), dy.data(), x.data(), g);
    expect_close(dw, dw_ref, tol, what + " backward weights");
    expect_close(db, db_ref, tol, what + " backward bias");
  }
}

TEST(Conv, KernelThatDoesNotFitIsAnError) {
  ConvGeometry g;
  g.h = g.w = 2, g.kh = g.kw = 3;
  std::vector<float> x(4), w(9), y(1);
  EXPECT_THROW(conv2d_forward(y.data(), x.data(), w.data(), nullptr, g), Error);
  // With stride 2 the span -1 must not round to an output of 1 (PyTorch: size 0, an error).
  g.stride_h = g.stride_w = 2;
  EXPECT_EQ(g.out_h(), 0);
  EXPECT_THROW(conv2d_forward(y.data(), x.data(), w.data(), nullptr, g), Error);
  PoolGeometry p{.h = 1, .w = 1, .kh = 2, .kw = 2, .stride_h = 2, .stride_w = 2};
  EXPECT_EQ(p.out_h(), 0);
}

}  // namespace
}  // namespace tide
