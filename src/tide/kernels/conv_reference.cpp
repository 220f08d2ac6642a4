// Convolution by its definition: for checking the oneDNN kernels and for the f64 path.
#include <cstddef>
#include <vector>

#include "tide/kernels/conv.hpp"

namespace tide {
namespace {

// Calls f(n, oc, oy, ox, ic, ky, kx, iy, ix) for every input position that output
// (n, oc, oy, ox) reads, skipping the padding.
template <class F>
void for_each_tap(const ConvGeometry& g, F&& f) {
  const int64_t oh = g.out_h(), ow = g.out_w();
  const int64_t cin_g = g.c_in / g.groups, cout_g = g.c_out / g.groups;
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oc = 0; oc < g.c_out; ++oc)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox)
          for (int64_t icg = 0; icg < cin_g; ++icg)
            for (int64_t ky = 0; ky < g.kh; ++ky)
              for (int64_t kx = 0; kx < g.kw; ++kx) {
                const int64_t iy = oy * g.stride_h - g.pad_h + ky * g.dilation_h;
                const int64_t ix = ox * g.stride_w - g.pad_w + kx * g.dilation_w;
                if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
                f(n, oc, oy, ox, (oc / cout_g) * cin_g + icg, icg, ky, kx, iy, ix);
              }
}

}  // namespace

template <class T>
void conv2d_forward_reference(T* y, const T* x, const T* w, const T* b, const ConvGeometry& g) {
  const int64_t oh = g.out_h(), ow = g.out_w(), cin_g = g.c_in / g.groups;
  std::vector<double> acc(static_cast<size_t>(g.n * g.c_out * oh * ow), 0.0);
  for_each_tap(g, [&](int64_t n, int64_t oc, int64_t oy, int64_t ox, int64_t ic, int64_t icg,
                      int64_t ky, int64_t kx, int64_t iy, int64_t ix) {
    acc[((n * g.c_out + oc) * oh + oy) * ow + ox] +=
        static_cast<double>(x[((n * g.c_in + ic) * g.h + iy) * g.w + ix]) *
        static_cast<double>(w[((oc * cin_g + icg) * g.kh + ky) * g.kw + kx]);
  });
  for (size_t i = 0; i < acc.size(); ++i) {
    const int64_t oc = static_cast<int64_t>(i) / (oh * ow) % g.c_out;
    y[i] = static_cast<T>(acc[i] + (b ? static_cast<double>(b[oc]) : 0.0));
  }
}

template <class T>
void conv2d_backward_data_reference(T* dx, const T* dy, const T* w, const ConvGeometry& g) {
  const int64_t oh = g.out_h(), ow = g.out_w(), cin_g = g.c_in / g.groups;
  std::vector<double> acc(static_cast<size_t>(g.n * g.c_in * g.h * g.w), 0.0);
  for_each_tap(g, [&](int64_t n, int64_t oc, int64_t oy, int64_t ox, int64_t ic, int64_t icg,
                      int64_t ky, int64_t kx, int64_t iy, int64_t ix) {
    acc[((n * g.c_in + ic) * g.h + iy) * g.w + ix] +=
        static_cast<double>(dy[((n * g.c_out + oc) * oh + oy) * ow + ox]) *
        static_cast<double>(w[((oc * cin_g + icg) * g.kh + ky) * g.kw + kx]);
  });
  for (size_t i = 0; i < acc.size(); ++i) dx[i] = static_cast<T>(acc[i]);
}

template <class T>
void conv2d_backward_weights_reference(T* dw, T* db, const T* dy, const T* x,
                                       const ConvGeometry& g) {
  const int64_t oh = g.out_h(), ow = g.out_w(), cin_g = g.c_in / g.groups;
  std::vector<double> acc(static_cast<size_t>(g.c_out * cin_g * g.kh * g.kw), 0.0);
  for_each_tap(g, [&](int64_t n, int64_t oc, int64_t oy, int64_t ox, int64_t ic, int64_t icg,
                      int64_t ky, int64_t kx, int64_t iy, int64_t ix) {
    acc[((oc * cin_g + icg) * g.kh + ky) * g.kw + kx] +=
        static_cast<double>(dy[((n * g.c_out + oc) * oh + oy) * ow + ox]) *
        static_cast<double>(x[((n * g.c_in + ic) * g.h + iy) * g.w + ix]);
  });
  for (size_t i = 0; i < acc.size(); ++i) dw[i] = static_cast<T>(acc[i]);
  if (!db) return;
  for (int64_t oc = 0; oc < g.c_out; ++oc) {
    double s = 0;
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t p = 0; p < oh * ow; ++p) s += dy[(n * g.c_out + oc) * oh * ow + p];
    db[oc] = static_cast<T>(s);
  }
}

#define TIDE_INSTANTIATE(T)                                                                     \
  template void conv2d_forward_reference<T>(T*, const T*, const T*, const T*,                   \
                                            const ConvGeometry&);                               \
  template void conv2d_backward_data_reference<T>(T*, const T*, const T*, const ConvGeometry&); \
  template void conv2d_backward_weights_reference<T>(T*, T*, const T*, const T*,                \
                                                     const ConvGeometry&);
TIDE_INSTANTIATE(float)
TIDE_INSTANTIATE(double)
#undef TIDE_INSTANTIATE

}  // namespace tide
