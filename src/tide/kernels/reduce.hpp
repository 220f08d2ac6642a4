// Reductions. Float sums accumulate in double, so a mean over a million elements keeps
// full float precision.
#pragma once

#include <cstdint>

namespace tide {

// The sum of x (n).
template <class T>
double sum_all(const T* x, int64_t n);

// The sum of x[i] * y[i] over n elements (x may be y: a sum of squares).
template <class T>
double dot(const T* x, const T* y, int64_t n);

// y (outer, inner) = sum over the middle axis of x (outer, size, inner), times alpha.
template <class T>
void sum_axis(T* y, const T* x, int64_t outer, int64_t size, int64_t inner, T alpha);

// dx (outer, size, inner) (+)= alpha * dy (outer, inner), repeated along the middle axis:
// the backward of sum_axis.
template <class T>
void expand_axis(T* dx, const T* dy, int64_t outer, int64_t size, int64_t inner, T alpha,
                 bool accumulate);

// y (cols) (+)= sum over rows of x (rows, cols): the bias gradient of a linear layer.
template <class T>
void sum_rows(T* y, const T* x, int64_t rows, int64_t cols, bool accumulate);

}  // namespace tide
