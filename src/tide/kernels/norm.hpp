// Layer and batch normalisation (torch.nn.LayerNorm, BatchNorm1d/2d). Our own OpenMP loops,
// with double accumulators for the statistics.
#pragma once

#include <cstdint>

namespace tide {

// x (rows, cols) normalised over cols: y = (x - mean) * rstd * w + b, with w, b (cols) or
// null (then 1 and 0). mean and rstd (rows) are kept for the backward pass.
template <class T>
void layer_norm(T* y, T* mean, T* rstd, const T* x, const T* w, const T* b, int64_t rows,
                int64_t cols, double eps);
// dx (rows, cols), dw and db (cols, or null) from dy, given x, w and the saved statistics.
template <class T>
void layer_norm_backward(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w, const T* mean,
                         const T* rstd, int64_t rows, int64_t cols);

// x (N, C, S) with S the spatial size (1 for BatchNorm1d on (N, C)), normalised per channel.
// training: the batch's statistics are used and saved (mean, rstd), and the running ones
// updated: running = (1 - momentum) * running + momentum * batch (unbiased variance), as
// PyTorch. evaluation: the running statistics are used (and saved as mean, rstd).
template <class T>
void batch_norm(T* y, T* mean, T* rstd, T* running_mean, T* running_var, const T* x, const T* w,
                const T* b, int64_t n, int64_t c, int64_t s, bool training, double momentum,
                double eps);
// dx (N, C, S), dw and db (C, or null); `training` says whether the statistics were the
// batch's (then they depend on x) or fixed running ones.
template <class T>
void batch_norm_backward(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w, const T* mean,
                         const T* rstd, int64_t n, int64_t c, int64_t s, bool training);

}  // namespace tide
