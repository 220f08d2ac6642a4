// Elementwise arithmetic with NumPy/PyTorch broadcasting.
#pragma once

#include "tide/autograd/variable.hpp"

namespace tide {

// a OP b, broadcast to broadcast_shapes(a, b). Both must have one float dtype.
Variable add(const Variable& a, const Variable& b);
Variable sub(const Variable& a, const Variable& b);
Variable mul(const Variable& a, const Variable& b);
Variable div(const Variable& a, const Variable& b);

// alpha * a + beta, elementwise.
Variable affine(const Variable& a, double alpha, double beta);

inline Variable operator+(const Variable& a, const Variable& b) {
  return add(a, b);
}
inline Variable operator-(const Variable& a, const Variable& b) {
  return sub(a, b);
}
inline Variable operator*(const Variable& a, const Variable& b) {
  return mul(a, b);
}
inline Variable operator/(const Variable& a, const Variable& b) {
  return div(a, b);
}
inline Variable operator+(const Variable& a, double s) {
  return affine(a, 1.0, s);
}
inline Variable operator+(double s, const Variable& a) {
  return affine(a, 1.0, s);
}
inline Variable operator-(const Variable& a, double s) {
  return affine(a, 1.0, -s);
}
inline Variable operator-(double s, const Variable& a) {
  return affine(a, -1.0, s);
}
inline Variable operator*(const Variable& a, double s) {
  return affine(a, s, 0.0);
}
inline Variable operator*(double s, const Variable& a) {
  return affine(a, s, 0.0);
}
inline Variable operator/(const Variable& a, double s) {
  return affine(a, 1.0 / s, 0.0);
}
inline Variable operator-(const Variable& a) {
  return affine(a, -1.0, 0.0);
}

}  // namespace tide
