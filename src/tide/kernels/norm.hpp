// Layer and batch normalisation (torch.nn.LayerNorm, BatchNorm1d/2d). float runs oneDNN's
// normalisation primitives (built once per shape and kept); double runs the reference loops,
// which keep double accumulators for the statistics and which the tests hold oneDNN against.
#pragma once

#include <cstdint>

namespace tide {

// x (rows, cols) normalised over cols: y = (x - mean) / sqrt(var + eps) * w + b, with w, b
// (cols) or null (then 1 and 0). mean and var (rows, the biased variance) are kept for the
// backward pass.
void layer_norm(float* y, float* mean, float* var, const float* x, const float* w, const float* b,
                int64_t rows, int64_t cols, double eps);
void layer_norm(double* y, double* mean, double* var, const double* x, const double* w,
                const double* b, int64_t rows, int64_t cols, double eps);
// dx (rows, cols), dw and db (cols, or null when not wanted) from dy, given x, w and the saved
// statistics.
void layer_norm_backward(float* dx, float* dw, float* db, const float* dy, const float* x,
                         const float* w, const float* mean, const float* var, int64_t rows,
                         int64_t cols, double eps);
void layer_norm_backward(double* dx, double* dw, double* db, const double* dy, const double* x,
                         const double* w, const double* mean, const double* var, int64_t rows,
                         int64_t cols, double eps);

// x (N, C, S) with S the spatial size (1 for BatchNorm1d on (N, C)), normalised per channel.
// training: the batch's statistics are used and saved (mean, var biased), and the running
// ones updated: running = (1 - momentum) * running + momentum * batch (unbiased variance), as
// PyTorch; running_mean and running_var may be null (no tracking). evaluation: the running
// statistics are used and saved.
struct BatchNormArgs {
  int64_t n = 1, c = 1, s = 1;
  bool training = true;
  double momentum = 0.1, eps = 1e-5;
};
void batch_norm(float* y, float* mean, float* var, float* running_mean, float* running_var,
                const float* x, const float* w, const float* b, const BatchNormArgs& a);
void batch_norm(double* y, double* mean, double* var, double* running_mean, double* running_var,
                const double* x, const double* w, const double* b, const BatchNormArgs& a);
// dx (N, C, S, or null), dw and db (C, or null) from dy; whether the statistics were the
// batch's (then they depend on x) or fixed running ones is a.training.
void batch_norm_backward(float* dx, float* dw, float* db, const float* dy, const float* x,
                         const float* w, const float* mean, const float* var,
                         const BatchNormArgs& a);
void batch_norm_backward(double* dx, double* dw, double* db, const double* dy, const double* x,
                         const double* w, const double* mean, const double* var,
                         const BatchNormArgs& a);

// The reference loops behind the double overloads, for any T.
template <class T>
void layer_norm_reference(T* y, T* mean, T* var, const T* x, const T* w, const T* b, int64_t rows,
                          int64_t cols, double eps);
template <class T>
void layer_norm_backward_reference(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w,
                                   const T* mean, const T* var, int64_t rows, int64_t cols,
                                   double eps);
template <class T>
void batch_norm_reference(T* y, T* mean, T* var, T* running_mean, T* running_var, const T* x,
                          const T* w, const T* b, const BatchNormArgs& a);
template <class T>
void batch_norm_backward_reference(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w,
                                   const T* mean, const T* var, const BatchNormArgs& a);

}  // namespace tide
