#include <cmath>
#include <vector>

#include "tide/kernels/norm.hpp"
#include "tide/kernels/parallel.hpp"

namespace tide {

template <class T>
void layer_norm_reference(T* y, T* mean, T* var, const T* x, const T* w, const T* b, int64_t rows,
                          int64_t cols, double eps) {
  // Per-element work in T so the loops vectorise; the row statistics in double.
#pragma omp parallel for if (rows * cols > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const T* in = x + r * cols;
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < cols; ++j) s += in[j];
    const T m = static_cast<T>(s / static_cast<double>(cols));
    double ss = 0;
#pragma omp simd reduction(+ : ss)
    for (int64_t j = 0; j < cols; ++j) ss += (in[j] - m) * (in[j] - m);
    const double v = ss / static_cast<double>(cols);
    const T rs = static_cast<T>(1.0 / std::sqrt(v + eps));
    mean[r] = m;
    var[r] = static_cast<T>(v);
    T* out = y + r * cols;
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j)
      out[j] = (w ? w[j] : T(1)) * ((in[j] - m) * rs) + (b ? b[j] : T(0));
  }
}

template <class T>
void layer_norm_backward_reference(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w,
                                   const T* mean, const T* var, int64_t rows, int64_t cols,
                                   double eps) {
#pragma omp parallel for if (rows * cols > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const T* g = dy + r * cols;
    const T* in = x + r * cols;
    const T m = mean[r], rs = static_cast<T>(1.0 / std::sqrt(var[r] + eps));
    double sum_dxhat = 0, sum_dxhat_xhat = 0;
#pragma omp simd reduction(+ : sum_dxhat, sum_dxhat_xhat)
    for (int64_t j = 0; j < cols; ++j) {
      const T dxhat = g[j] * (w ? w[j] : T(1));
      sum_dxhat += dxhat;
      sum_dxhat_xhat += dxhat * ((in[j] - m) * rs);
    }
    const T m1 = static_cast<T>(sum_dxhat / static_cast<double>(cols));
    const T m2 = static_cast<T>(sum_dxhat_xhat / static_cast<double>(cols));
    T* out = dx + r * cols;
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) {
      const T dxhat = g[j] * (w ? w[j] : T(1));
      out[j] = rs * (dxhat - m1 - ((in[j] - m) * rs) * m2);
    }
  }
  // Parameter gradients sum over rows, row by row so the reads stay contiguous.
  if (!dw && !db) return;
  std::vector<double> sw(static_cast<size_t>(cols), 0.0), sb(static_cast<size_t>(cols), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const T* g = dy + r * cols;
    const T* in = x + r * cols;
    const double m = mean[r], rs = 1.0 / std::sqrt(var[r] + eps);
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) {
      sw[j] += static_cast<double>(g[j]) * (in[j] - m) * rs;
      sb[j] += g[j];
    }
  }
  for (int64_t j = 0; j < cols; ++j) {
    if (dw) dw[j] = static_cast<T>(sw[j]);
    if (db) db[j] = static_cast<T>(sb[j]);
  }
}

template <class T>
void batch_norm_reference(T* y, T* mean, T* var, T* running_mean, T* running_var, const T* x,
                          const T* w, const T* b, const BatchNormArgs& a) {
  const int64_t n = a.n, c = a.c, s = a.s, count = n * s;
#pragma omp parallel for if (n * c * s > kParallelGrain)
  for (int64_t ch = 0; ch < c; ++ch) {
    double m, v;
    if (a.training) {
      double sum = 0, ss = 0;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t k = 0; k < s; ++k) sum += x[(i * c + ch) * s + k];
      m = sum / static_cast<double>(count);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t k = 0; k < s; ++k) {
          const double d = x[(i * c + ch) * s + k] - m;
          ss += d * d;
        }
      v = ss / static_cast<double>(count);
      if (running_mean) {
        const double unbiased = count > 1 ? ss / static_cast<double>(count - 1) : v;
        running_mean[ch] = static_cast<T>((1 - a.momentum) * running_mean[ch] + a.momentum * m);
        running_var[ch] =
            static_cast<T>((1 - a.momentum) * running_var[ch] + a.momentum * unbiased);
      }
    } else {
      m = running_mean[ch];
      v = running_var[ch];
    }
    const double rs = 1.0 / std::sqrt(v + a.eps);
    mean[ch] = static_cast<T>(m);
    var[ch] = static_cast<T>(v);
    const double scale = (w ? w[ch] : T(1)) * rs, shift = (b ? b[ch] : T(0)) - m * scale;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < s; ++k)
        y[(i * c + ch) * s + k] = static_cast<T>(x[(i * c + ch) * s + k] * scale + shift);
  }
}

template <class T>
void batch_norm_backward_reference(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w,
                                   const T* mean, const T* var, const BatchNormArgs& a) {
  const int64_t n = a.n, c = a.c, s = a.s;
  const double count = static_cast<double>(n * s);
#pragma omp parallel for if (n * c * s > kParallelGrain)
  for (int64_t ch = 0; ch < c; ++ch) {
    const double rs = 1.0 / std::sqrt(var[ch] + a.eps);
    double sum_dy = 0, sum_dy_xhat = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < s; ++k) {
        const int64_t at = (i * c + ch) * s + k;
        sum_dy += dy[at];
        sum_dy_xhat += dy[at] * (x[at] - mean[ch]) * rs;
      }
    if (dw) dw[ch] = static_cast<T>(sum_dy_xhat);
    if (db) db[ch] = static_cast<T>(sum_dy);
    if (!dx) continue;
    const double scale = (w ? w[ch] : T(1)) * rs;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < s; ++k) {
        const int64_t at = (i * c + ch) * s + k;
        if (a.training) {
          const double xhat = (x[at] - mean[ch]) * rs;
          dx[at] = static_cast<T>(scale * (dy[at] - sum_dy / count - xhat * sum_dy_xhat / count));
        } else {
          dx[at] = static_cast<T>(scale * dy[at]);
        }
      }
  }
}

void layer_norm(double* y, double* mean, double* var, const double* x, const double* w,
                const double* b, int64_t rows, int64_t cols, double eps) {
  layer_norm_reference(y, mean, var, x, w, b, rows, cols, eps);
}

void layer_norm_backward(double* dx, double* dw, double* db, const double* dy, const double* x,
                         const double* w, const double* mean, const double* var, int64_t rows,
                         int64_t cols, double eps) {
  layer_norm_backward_reference(dx, dw, db, dy, x, w, mean, var, rows, cols, eps);
}

void batch_norm(double* y, double* mean, double* var, double* running_mean, double* running_var,
                const double* x, const double* w, const double* b, const BatchNormArgs& a) {
  batch_norm_reference(y, mean, var, running_mean, running_var, x, w, b, a);
}

void batch_norm_backward(double* dx, double* dw, double* db, const double* dy, const double* x,
                         const double* w, const double* mean, const double* var,
                         const BatchNormArgs& a) {
  batch_norm_backward_reference(dx, dw, db, dy, x, w, mean, var, a);
}

#define TIDE_INSTANTIATE(T)                                                                     \
  template void layer_norm_reference<T>(T*, T*, T*, const T*, const T*, const T*, int64_t,      \
                                        int64_t, double);                                       \
  template void layer_norm_backward_reference<T>(T*, T*, T*, const T*, const T*, const T*,      \
                                                 const T*, const T*, int64_t, int64_t, double); \
  template void batch_norm_reference<T>(T*, T*, T*, T*, T*, const T*, const T*, const T*,       \
                                        const BatchNormArgs&);                                  \
  template void batch_norm_backward_reference<T>(T*, T*, T*, const T*, const T*, const T*,      \
                                                 const T*, const T*, const BatchNormArgs&);
TIDE_INSTANTIATE(float)
TIDE_INSTANTIATE(double)
#undef TIDE_INSTANTIATE

}  // namespace tide
