#include "tide/kernels/elementwise.hpp"

#include <cmath>
#include <vector>

#include "tide/core/error.hpp"
#include "tide/kernels/parallel.hpp"

namespace tide {
namespace {

// Strides (in elements) of `shape` as seen from `out_shape`: 0 where the dimension is
// broadcast, so one index walks both tensors.
std::vector<int64_t> broadcast_strides(const Shape& shape, const Shape& out_shape) {
  const int n = out_shape.ndim(), offset = n - shape.ndim();
  std::vector<int64_t> strides(n, 0);
  int64_t stride = 1;
  for (int i = shape.ndim() - 1; i >= 0; --i) {
    strides[i + offset] = shape.dims()[i] == 1 ? 0 : stride;
    stride *= shape.dims()[i];
  }
  return strides;
}

// Offset of row `row` (all dimensions but the last) of out_shape in a tensor with `strides`.
int64_t row_offset(int64_t row, const Shape& out_shape, const std::vector<int64_t>& strides) {
  int64_t offset = 0;
  for (int d = out_shape.ndim() - 2; d >= 0; --d) {
    const int64_t size = out_shape.dims()[d];
    offset += (row % size) * strides[d];
    row /= size;
  }
  return offset;
}

template <class T>
inline T apply(BinaryOp op, T x, T y) {
  switch (op) {
    case BinaryOp::add:
      return x + y;
    case BinaryOp::sub:
      return x - y;
    case BinaryOp::mul:
      return x * y;
    case BinaryOp::div:
      return x / y;
  }
  return T(0);
}

// The inner loop, specialised on the op and on whether each input moves along the row, so
// that every variant is a plain vectorisable loop.
template <class T, BinaryOp op>
void binary_rows(T* out, const T* a, const T* b, const Shape& out_shape,
                 const std::vector<int64_t>& sa, const std::vector<int64_t>& sb) {
  const int64_t cols = out_shape.ndim() == 0 ? 1 : out_shape[-1];
  const int64_t rows = cols == 0 ? 0 : out_shape.numel() / cols;
  const int64_t ia = out_shape.ndim() == 0 ? 0 : sa.back();
  const int64_t ib = out_shape.ndim() == 0 ? 0 : sb.back();
#pragma omp parallel for if (rows * cols > kParallelGrain && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const T* pa = a + row_offset(r, out_shape, sa);
    const T* pb = b + row_offset(r, out_shape, sb);
    T* po = out + r * cols;
    if (ia == 1 && ib == 1) {
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j) po[j] = apply(op, pa[j], pb[j]);
    } else if (ia == 1) {
      const T y = pb[0];
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j) po[j] = apply(op, pa[j], y);
    } else if (ib == 1) {
      const T x = pa[0];
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j) po[j] = apply(op, x, pb[j]);
    } else {
      const T v = apply(op, pa[0], pb[0]);
      for (int64_t j = 0; j < cols; ++j) po[j] = v;
    }
  }
}

}  // namespace

template <class T>
void binary(T* out, const T* a, const T* b, const Shape& out_shape, const Shape& a_shape,
            const Shape& b_shape, BinaryOp op) {
  Shape shape = out_shape;
  auto sa = broadcast_strides(a_shape, shape), sb = broadcast_strides(b_shape, shape);
  // Same shapes: one flat row, so the loop is split across threads evenly.
  if (a_shape == b_shape && a_shape == out_shape && shape.ndim() > 1) {
    shape = Shape({out_shape.numel()});
    sa = sb = {1};
  }
  switch (op) {
    case BinaryOp::add:
      return binary_rows<T, BinaryOp::add>(out, a, b, shape, sa, sb);
    case BinaryOp::sub:
      return binary_rows<T, BinaryOp::sub>(out, a, b, shape, sa, sb);
    case BinaryOp::mul:
      return binary_rows<T, BinaryOp::mul>(out, a, b, shape, sa, sb);
    case BinaryOp::div:
      return binary_rows<T, BinaryOp::div>(out, a, b, shape, sa, sb);
  }
}

template <class T>
void sum_to_shape(T* out, const T* in, const Shape& out_shape, const Shape& in_shape) {
  const int64_t n_out = out_shape.numel();
  for (int64_t i = 0; i < n_out; ++i) out[i] = T(0);
  const auto so = broadcast_strides(out_shape, in_shape);
  const int64_t cols = in_shape.ndim() == 0 ? 1 : in_shape[-1];
  const int64_t rows = cols == 0 ? 0 : in_shape.numel() / cols;
  const int64_t io = in_shape.ndim() == 0 ? 0 : so.back();
  // Serial on purpose: rows may add into the same output elements.
  for (int64_t r = 0; r < rows; ++r) {
    T* po = out + row_offset(r, in_shape, so);
    const T* pi = in + r * cols;
    if (io == 1) {
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j) po[j] += pi[j];
    } else {
      T acc = 0;
#pragma omp simd reduction(+ : acc)
      for (int64_t j = 0; j < cols; ++j) acc += pi[j];
      po[0] += acc;
    }
  }
}

namespace {

// The constants of gelu's tanh form: sqrt(2 / pi) and PyTorch's kappa.
constexpr double kGeluBeta = 0.7978845608028654, kGeluKappa = 0.044715;

template <class T>
T gelu_tanh(T x) {
  return T(0.5) * x * (T(1) + std::tanh(T(kGeluBeta) * (x + T(kGeluKappa) * x * x * x)));
}

template <class T>
T gelu_tanh_derivative(T x) {
  const T t = std::tanh(T(kGeluBeta) * (x + T(kGeluKappa) * x * x * x));
  return T(0.5) * (T(1) + t) +
         T(0.5) * x * (T(1) - t * t) * T(kGeluBeta) * (T(1) + T(3 * kGeluKappa) * x * x);
}

}  // namespace

template <class T>
void unary(T* y, const T* x, int64_t n, UnaryOp op) {
#define TIDE_UNARY_LOOP(expr)                                                                \
  _Pragma("omp parallel for simd if (n > kParallelGrain)") for (int64_t i = 0; i < n; ++i) { \
    const T v = x[i];                                                                        \
    y[i] = (expr);                                                                           \
  }                                                                                          \
  return
  switch (op) {
    case UnaryOp::relu:
      TIDE_UNARY_LOOP(v > T(0) ? v : T(0));
    case UnaryOp::sigmoid:
      TIDE_UNARY_LOOP(T(1) / (T(1) + std::exp(-v)));
    case UnaryOp::tanh:
      TIDE_UNARY_LOOP(std::tanh(v));
    case UnaryOp::exp:
      TIDE_UNARY_LOOP(std::exp(v));
    case UnaryOp::log:
      TIDE_UNARY_LOOP(std::log(v));
    case UnaryOp::neg:
      TIDE_UNARY_LOOP(-v);
    case UnaryOp::square:
      TIDE_UNARY_LOOP(v * v);
    case UnaryOp::sqrt:
      TIDE_UNARY_LOOP(std::sqrt(v));
    case UnaryOp::gelu:
      TIDE_UNARY_LOOP(T(0.5) * v * (T(1) + std::erf(v * T(M_SQRT1_2))));
    case UnaryOp::gelu_tanh:
      TIDE_UNARY_LOOP(gelu_tanh(v));
  }
#undef TIDE_UNARY_LOOP
}

template <class T>
void unary_backward(T* dx, const T* dy, const T* x, const T* y, int64_t n, UnaryOp op,
                    bool accumulate) {
  // `expr` is the gradient for element i; accumulate decides between += and =.
#define TIDE_BACKWARD_LOOP(expr)                                                             \
  if (accumulate) {                                                                          \
    _Pragma("omp parallel for simd if (n > kParallelGrain)") for (int64_t i = 0; i < n; ++i) \
        dx[i] += (expr);                                                                     \
  } else {                                                                                   \
    _Pragma("omp parallel for simd if (n > kParallelGrain)") for (int64_t i = 0; i < n; ++i) \
        dx[i] = (expr);                                                                      \
  }                                                                                          \
  return
  switch (op) {
    case UnaryOp::relu:
      TIDE_BACKWARD_LOOP(y[i] > T(0) ? dy[i] : T(0));
    case UnaryOp::sigmoid:
      TIDE_BACKWARD_LOOP(dy[i] * y[i] * (T(1) - y[i]));
    case UnaryOp::tanh:
      TIDE_BACKWARD_LOOP(dy[i] * (T(1) - y[i] * y[i]));
    case UnaryOp::exp:
      TIDE_BACKWARD_LOOP(dy[i] * y[i]);
    case UnaryOp::log:
      TIDE_BACKWARD_LOOP(dy[i] / x[i]);
    case UnaryOp::neg:
      TIDE_BACKWARD_LOOP(-dy[i]);
    case UnaryOp::square:
      TIDE_BACKWARD_LOOP(T(2) * x[i] * dy[i]);
    case UnaryOp::sqrt:
      TIDE_BACKWARD_LOOP(dy[i] / (T(2) * y[i]));
    // d/dx x Phi(x) = Phi(x) + x phi(x), with phi the normal density.
    case UnaryOp::gelu:
      TIDE_BACKWARD_LOOP(dy[i] * (T(0.5) * (T(1) + std::erf(x[i] * T(M_SQRT1_2))) +
                                  x[i] * std::exp(T(-0.5) * x[i] * x[i]) * T(0.3989422804014327)));
    // With t = tanh(u), u = beta (x + kappa x^3): 0.5 (1 + t) + 0.5 x (1 - t^2) du/dx.
    case UnaryOp::gelu_tanh:
      TIDE_BACKWARD_LOOP(dy[i] * gelu_tanh_derivative(x[i]));
  }
#undef TIDE_BACKWARD_LOOP
}

template <class T>
void affine(T* y, const T* x, int64_t n, T alpha, T beta) {
#pragma omp parallel for simd if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) y[i] = alpha * x[i] + beta;
}

#define TIDE_INSTANTIATE(T)                                                                  \
  template void binary<T>(T*, const T*, const T*, const Shape&, const Shape&, const Shape&,  \
                          BinaryOp);                                                         \
  template void sum_to_shape<T>(T*, const T*, const Shape&, const Shape&);                   \
  template void unary<T>(T*, const T*, int64_t, UnaryOp);                                    \
  template void unary_backward<T>(T*, const T*, const T*, const T*, int64_t, UnaryOp, bool); \
  template void affine<T>(T*, const T*, int64_t, T, T);
TIDE_INSTANTIATE(float)
TIDE_INSTANTIATE(double)
#undef TIDE_INSTANTIATE

}  // namespace tide
