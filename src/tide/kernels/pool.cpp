#include "tide/kernels/pool.hpp"

#include <algorithm>
#include <limits>

#include "tide/kernels/parallel.hpp"

namespace tide {
namespace {

// The window of output index o along one axis: [start, end) clipped to the input.
struct Span {
  int64_t start, end;
};
Span window(int64_t o, int64_t stride, int64_t pad, int64_t k, int64_t size) {
  const int64_t s = o * stride - pad;
  return {std::max<int64_t>(s, 0), std::min<int64_t>(s + k, size)};
}
// The divisor of average pooling along one axis: the window clipped to the input and its
// padding (PyTorch's pool_size), or the part of it inside the input.
int64_t divisor(int64_t o, int64_t stride, int64_t pad, int64_t k, int64_t size,
                bool count_include_pad) {
  const int64_t s = o * stride - pad;
  if (count_include_pad) return std::min<int64_t>(s + k, size + pad) - s;
  return std::min<int64_t>(s + k, size) - std::max<int64_t>(s, 0);
}
// The taps of a dilated window inside the input: first, first + dilation, ..., count of them.
struct Taps {
  int64_t first, count;
};
Taps taps(int64_t o, int64_t stride, int64_t pad, int64_t k, int64_t dilation, int64_t size) {
  const int64_t s = o * stride - pad;
  const int64_t skip = s < 0 ? (-s + dilation - 1) / dilation : 0;  // taps in the left padding
  int64_t count = k - skip;
  const int64_t first = s + skip * dilation;
  if (first >= size) return {first, 0};
  count = std::min<int64_t>(count, (size - 1 - first) / dilation + 1);
  return {first, std::max<int64_t>(count, 0)};
}
Span adaptive_bin(int64_t o, int64_t out, int64_t size) {
  return {o * size / out, ((o + 1) * size + out - 1) / out};
}

}  // namespace

template <class T>
void max_pool2d_reference(T* y, int64_t* argmax, const T* x, const PoolGeometry& g) {
  const int64_t oh = g.out_h(), ow = g.out_w(), planes = g.n * g.c;
#pragma omp parallel for if (planes * g.h * g.w > kParallelGrain)
  for (int64_t p = 0; p < planes; ++p) {
    const T* in = x + p * g.h * g.w;
    for (int64_t oy = 0; oy < oh; ++oy) {
      const Taps ty = taps(oy, g.stride_h, g.pad_h, g.kh, g.dilation_h, g.h);
      for (int64_t ox = 0; ox < ow; ++ox) {
        const Taps tx = taps(ox, g.stride_w, g.pad_w, g.kw, g.dilation_w, g.w);
        T best = -std::numeric_limits<T>::infinity();
        // -1: a window of padding alone (dilation can leave one) sends no gradient back.
        int64_t at = ty.count > 0 && tx.count > 0 ? ty.first * g.w + tx.first : -1;
        for (int64_t i = 0; i < ty.count; ++i)
          for (int64_t j = 0; j < tx.count; ++j) {
            const int64_t k = (ty.first + i * g.dilation_h) * g.w + tx.first + j * g.dilation_w;
            // NaN propagates, as in PyTorch: a NaN compares false, so test for it.
            if (in[k] > best || in[k] != in[k]) {
              best = in[k];
              at = k;
              if (best != best) goto done;
            }
          }
      done:
        y[(p * oh + oy) * ow + ox] = best;
        argmax[(p * oh + oy) * ow + ox] = at;
      }
    }
  }
}

template <class T>
void max_pool2d_backward_reference(T* dx, const T* dy, const int64_t* argmax,
                                   const PoolGeometry& g) {
  const int64_t oh = g.out_h(), ow = g.out_w(), planes = g.n * g.c;
#pragma omp parallel for if (planes * g.h * g.w > kParallelGrain)
  for (int64_t p = 0; p < planes; ++p) {
    T* out = dx + p * g.h * g.w;
    std::fill(out, out + g.h * g.w, T(0));
    for (int64_t i = 0; i < oh * ow; ++i)
      if (const int64_t at = argmax[p * oh * ow + i]; at >= 0) out[at] += dy[p * oh * ow + i];
  }
}

template <class T>
void avg_pool2d_reference(T* y, const T* x, const PoolGeometry& g) {
  const int64_t oh = g.out_h(), ow = g.out_w(), planes = g.n * g.c;
#pragma omp parallel for if (planes * g.h * g.w > kParallelGrain)
  for (int64_t p = 0; p < planes; ++p) {
    const T* in = x + p * g.h * g.w;
    for (int64_t oy = 0; oy < oh; ++oy) {
      const Span ry = window(oy, g.stride_h, g.pad_h, g.kh, g.h);
      const int64_t dh = divisor(oy, g.stride_h, g.pad_h, g.kh, g.h, g.count_include_pad);
      for (int64_t ox = 0; ox < ow; ++ox) {
        const Span rx = window(ox, g.stride_w, g.pad_w, g.kw, g.w);
        const int64_t dw = divisor(ox, g.stride_w, g.pad_w, g.kw, g.w, g.count_include_pad);
        T sum = 0;
        for (int64_t iy = ry.start; iy < ry.end; ++iy)
          for (int64_t ix = rx.start; ix < rx.end; ++ix) sum += in[iy * g.w + ix];
        y[(p * oh + oy) * ow + ox] = sum / static_cast<T>(dh * dw);
      }
    }
  }
}

template <class T>
void avg_pool2d_backward_reference(T* dx, const T* dy, const PoolGeometry& g) {
  const int64_t oh = g.out_h(), ow = g.out_w(), planes = g.n * g.c;
#pragma omp parallel for if (planes * g.h * g.w > kParallelGrain)
  for (int64_t p = 0; p < planes; ++p) {
    T* out = dx + p * g.h * g.w;
    std::fill(out, out + g.h * g.w, T(0));
    for (int64_t oy = 0; oy < oh; ++oy) {
      const Span ry = window(oy, g.stride_h, g.pad_h, g.kh, g.h);
      const int64_t dh = divisor(oy, g.stride_h, g.pad_h, g.kh, g.h, g.count_include_pad);
      for (int64_t ox = 0; ox < ow; ++ox) {
        const Span rx = window(ox, g.stride_w, g.pad_w, g.kw, g.w);
        const int64_t dw = divisor(ox, g.stride_w, g.pad_w, g.kw, g.w, g.count_include_pad);
        const T v = dy[(p * oh + oy) * ow + ox] / static_cast<T>(dh * dw);
        for (int64_t iy = ry.start; iy < ry.end; ++iy)
          for (int64_t ix = rx.start; ix < rx.end; ++ix) out[iy * g.w + ix] += v;
      }
    }
  }
}

template <class T>
void adaptive_avg_pool2d_reference(T* y, const T* x, int64_t n, int64_t c, int64_t h, int64_t w,
                                   int64_t out_h, int64_t out_w) {
#pragma omp parallel for if (n * c * h * w > kParallelGrain)
  for (int64_t p = 0; p < n * c; ++p) {
    for (int64_t oy = 0; oy < out_h; ++oy) {
      const Span ry = adaptive_bin(oy, out_h, h);
      for (int64_t ox = 0; ox < out_w; ++ox) {
        const Span rx = adaptive_bin(ox, out_w, w);
        T sum = 0;
        for (int64_t iy = ry.start; iy < ry.end; ++iy)
          for (int64_t ix = rx.start; ix < rx.end; ++ix) sum += x[(p * h + iy) * w + ix];
        y[(p * out_h + oy) * out_w + ox] =
            sum / static_cast<T>((ry.end - ry.start) * (rx.end - rx.start));
      }
    }
  }
}

template <class T>
void adaptive_avg_pool2d_backward_reference(T* dx, const T* dy, int64_t n, int64_t c, int64_t h,
                                            int64_t w, int64_t out_h, int64_t out_w) {
#pragma omp parallel for if (n * c * h * w > kParallelGrain)
  for (int64_t p = 0; p < n * c; ++p) {
    std::fill(dx + p * h * w, dx + (p + 1) * h * w, T(0));
    for (int64_t oy = 0; oy < out_h; ++oy) {
      const Span ry = adaptive_bin(oy, out_h, h);
      for (int64_t ox = 0; ox < out_w; ++ox) {
        const Span rx = adaptive_bin(ox, out_w, w);
        const T v = dy[(p * out_h + oy) * out_w + ox] /
                    static_cast<T>((ry.end - ry.start) * (rx.end - rx.start));
        for (int64_t iy = ry.start; iy < ry.end; ++iy)
          for (int64_t ix = rx.start; ix < rx.end; ++ix) dx[(p * h + iy) * w + ix] += v;
      }
    }
  }
}

template <>
int64_t max_pool2d_record_bytes<double>(const PoolGeometry& g) {
  return g.n * g.c * g.out_h() * g.out_w() * static_cast<int64_t>(sizeof(int64_t));
}

void max_pool2d(double* y, void* record, const double* x, const PoolGeometry& g) {
  max_pool2d_reference(y, static_cast<int64_t*>(record), x, g);
}
void max_pool2d_backward(double* dx, const double* dy, const void* record, const PoolGeometry& g) {
  max_pool2d_backward_reference(dx, dy, static_cast<const int64_t*>(record), g);
}
void avg_pool2d(double* y, const double* x, const PoolGeometry& g) {
  avg_pool2d_reference(y, x, g);
}
void avg_pool2d_backward(double* dx, const double* dy, const PoolGeometry& g) {
  avg_pool2d_backward_reference(dx, dy, g);
}

namespace {
// Adaptive bins that tile the input evenly are the windows of a plain average pool.
bool as_plain_pool(PoolGeometry& g, int64_t n, int64_t c, int64_t h, int64_t w, int64_t out_h,
                   int64_t out_w) {
  if (h % out_h != 0 || w % out_w != 0) return false;
  g = PoolGeometry{.n = n, .c = c, .h = h, .w = w, .kh = h / out_h, .kw = w / out_w};
  g.stride_h = g.kh, g.stride_w = g.kw;
  return true;
}
}  // namespace

template <class T>
void adaptive_avg_pool2d(T* y, const T* x, int64_t n, int64_t c, int64_t h, int64_t w,
                         int64_t out_h, int64_t out_w) {
  PoolGeometry g;
  if (as_plain_pool(g, n, c, h, w, out_h, out_w))
    avg_pool2d(y, x, g);
  else
    adaptive_avg_pool2d_reference(y, x, n, c, h, w, out_h, out_w);
}

template <class T>
void adaptive_avg_pool2d_backward(T* dx, const T* dy, int64_t n, int64_t c, int64_t h, int64_t w,
                                  int64_t out_h, int64_t out_w) {
  PoolGeometry g;
  if (as_plain_pool(g, n, c, h, w, out_h, out_w))
    avg_pool2d_backward(dx, dy, g);
  else
    adaptive_avg_pool2d_backward_reference(dx, dy, n, c, h, w, out_h, out_w);
}

#define TIDE_INSTANTIATE(T)                                                                        \
  template void max_pool2d_reference<T>(T*, int64_t*, const T*, const PoolGeometry&);              \
  template void max_pool2d_backward_reference<T>(T*, const T*, const int64_t*,                     \
                                                 const PoolGeometry&);                             \
  template void avg_pool2d_reference<T>(T*, const T*, const PoolGeometry&);                        \
  template void avg_pool2d_backward_reference<T>(T*, const T*, const PoolGeometry&);               \
  template void adaptive_avg_pool2d_reference<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t, \
                                                 int64_t, int64_t);                                \
  template void adaptive_avg_pool2d_backward_reference<T>(T*, const T*, int64_t, int64_t, int64_t, \
                                                          int64_t, int64_t, int64_t);              \
  template void adaptive_avg_pool2d<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t, int64_t,  \
                                       int64_t);                                                   \
  template void adaptive_avg_pool2d_backward<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t,  \
                                                int64_t, int64_t);
TIDE_INSTANTIATE(float)
TIDE_INSTANTIATE(double)
#undef TIDE_INSTANTIATE

}  // namespace tide
