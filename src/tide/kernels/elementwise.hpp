// Elementwise kernels: OpenMP loops written so that GCC vectorises them. Each is defined for
// float (the fast path) and double (the reference path used by gradient checks).
//
// Output pointers come first, then inputs, then sizes. A backward kernel with an
// `accumulate` flag adds into its output when true and overwrites it when false.
#pragma once

#include <cstdint>

#include "tide/core/shape.hpp"

namespace tide {

enum class BinaryOp { add, sub, mul, div };

// out (out_shape) = a (a_shape) OP b (b_shape), broadcasting a and b to out_shape (NumPy rules;
// out_shape must be broadcast_shapes(a_shape, b_shape)).
template <class T>
void binary(T* out, const T* a, const T* b, const Shape& out_shape, const Shape& a_shape,
            const Shape& b_shape, BinaryOp op);

// out (out_shape) = sum of in (in_shape) over the dimensions that broadcasting expanded:
// the backward of broadcasting. out_shape must broadcast to in_shape.
template <class T>
void sum_to_shape(T* out, const T* in, const Shape& out_shape, const Shape& in_shape);

// gelu is the exact form, x * Phi(x) with the normal CDF Phi (PyTorch's default); gelu_tanh
// PyTorch's approximate='tanh': 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).
enum class UnaryOp { relu, sigmoid, tanh, exp, log, neg, square, sqrt, gelu, gelu_tanh };

// y (n) = f(x) (n)
template <class T>
void unary(T* y, const T* x, int64_t n, UnaryOp op);

// dx (n) (+)= dy * f'(x), given x (n), y = f(x) (n) and dy (n). Each op uses whichever of x
// and y gives the cheapest exact derivative.
template <class T>
void unary_backward(T* dx, const T* dy, const T* x, const T* y, int64_t n, UnaryOp op,
                    bool accumulate);

// y (n) = alpha * x + beta
template <class T>
void affine(T* y, const T* x, int64_t n, T alpha, T beta);

}  // namespace tide
