#include "tide/kernels/norm.hpp"

#include <cmath>
#include <vector>

#include "tide/kernels/parallel.hpp"

namespace tide {

template <class T>
void layer_norm(T* y, T* mean, T* rstd, const T* x, const T* w, const T* b, int64_t rows,
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
    const T rs = static_cast<T>(1.0 / std::sqrt(ss / static_cast<double>(cols) + eps));
    mean[r] = m;
    rstd[r] = rs;
    T* out = y + r * cols;
    if (w && b) {
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j) out[j] = w[j] * ((in[j] - m) * rs) + b[j];
    } else {
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j)
        out[j] = (w ? w[j] : T(1)) * ((in[j] - m) * rs) + (b ? b[j] : T(0));
    }
  }
}

template <class T>
void layer_norm_backward(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w, const T* mean,
                         const T* rstd, int64_t rows, int64_t cols) {
#pragma omp parallel for if (rows * cols > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const T* g = dy + r * cols;
    const T* in = x + r * cols;
    const T m = mean[r], rs = rstd[r];
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
  // Parameter gradients sum over rows. Row by row keeps the reads contiguous and the inner
  // loop vectorised; the rows are few enough per step that one thread does it.
  if (!dw && !db) return;
  std::vector<double> sw(static_cast<size_t>(cols), 0.0), sb(static_cast<size_t>(cols), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const T* g = dy + r * cols;
    const T* in = x + r * cols;
    const double m = mean[r], rs = rstd[r];
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
void batch_norm(T* y, T* mean, T* rstd, T* running_mean, T* running_var, const T* x, const T* w,
                const T* b, int64_t n, int64_t c, int64_t s, bool training, double momentum,
                double eps) {
  const int64_t count = n * s;
#pragma omp parallel for if (n * c * s > kParallelGrain)
  for (int64_t ch = 0; ch < c; ++ch) {
    double m, var;
    if (training) {
      double sum = 0, ss = 0;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t k = 0; k < s; ++k) sum += x[(i * c + ch) * s + k];
      m = sum / static_cast<double>(count);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t k = 0; k < s; ++k) {
          const double d = x[(i * c + ch) * s + k] - m;
          ss += d * d;
        }
      var = ss / static_cast<double>(count);
      if (running_mean) {
        const double unbiased = count > 1 ? ss / static_cast<double>(count - 1) : var;
        running_mean[ch] = static_cast<T>((1 - momentum) * running_mean[ch] + momentum * m);
        running_var[ch] = static_cast<T>((1 - momentum) * running_var[ch] + momentum * unbiased);
      }
    } else {
      m = running_mean[ch];
      var = running_var[ch];
    }
    const double rs = 1.0 / std::sqrt(var + eps);
    mean[ch] = static_cast<T>(m);
    rstd[ch] = static_cast<T>(rs);
    const double scale = (w ? w[ch] : T(1)) * rs, shift = (b ? b[ch] : T(0)) - m * scale;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < s; ++k)
        y[(i * c + ch) * s + k] = static_cast<T>(x[(i * c + ch) * s + k] * scale + shift);
  }
}

template <class T>
void batch_norm_backward(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w, const T* mean,
                         const T* rstd, int64_t n, int64_t c, int64_t s, bool training) {
  const double count = static_cast<double>(n * s);
#pragma omp parallel for if (n * c * s > kParallelGrain)
  for (int64_t ch = 0; ch < c; ++ch) {
    double sum_dy = 0, sum_dy_xhat = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < s; ++k) {
        const int64_t at = (i * c + ch) * s + k;
        sum_dy += dy[at];
        sum_dy_xhat += dy[at] * (x[at] - mean[ch]) * rstd[ch];
      }
    if (dw) dw[ch] = static_cast<T>(sum_dy_xhat);
    if (db) db[ch] = static_cast<T>(sum_dy);
    if (!dx) continue;
    const double scale = (w ? w[ch] : T(1)) * rstd[ch];
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < s; ++k) {
        const int64_t at = (i * c + ch) * s + k;
        if (training) {
          const double xhat = (x[at] - mean[ch]) * rstd[ch];
          dx[at] = static_cast<T>(scale * (dy[at] - sum_dy / count - xhat * sum_dy_xhat / count));
        } else {
          dx[at] = static_cast<T>(scale * dy[at]);
        }
      }
  }
}

#define TIDE_INSTANTIATE(T)                                                                        \
  template void layer_norm<T>(T*, T*, T*, const T*, const T*, const T*, int64_t, int64_t, double); \
  template void layer_norm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*,         \
                                       const T*, int64_t, int64_t);                                \
  template void batch_norm<T>(T*, T*, T*, T*, T*, const T*, const T*, const T*, int64_t, int64_t,  \
                              int64_t, bool, double, double);                                      \
  template void batch_norm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*,         \
                                       const T*, int64_t, int64_t, int64_t, bool);
TIDE_INSTANTIATE(float)
TIDE_INSTANTIATE(double)
#undef TIDE_INSTANTIATE

}  // namespace tide
