// Runs a kernel template for the float type of a tensor: f32 on the fast path, f64 on the
// reference path that gradient checks use.
#pragma once

#include "tide/core/error.hpp"
#include "tide/tensor/tensor.hpp"

namespace tide {

// Calls f(float{}) or f(double{}) by dtype; throws naming the op for other dtypes.
template <class F>
decltype(auto) dispatch_float(DType dtype, const char* op, F&& f) {
  if (dtype == DType::f32) return f(float{});
  if (dtype == DType::f64) return f(double{});
  TIDE_FAIL("{}: expected an f32 or f64 tensor, got {}", op, dtype_name(dtype));
}

// Calls f(float{}), f(double{}) or f(int64_t{}) by dtype: for ops that only move data.
template <class F>
decltype(auto) dispatch_any(DType dtype, F&& f) {
  if (dtype == DType::f32) return f(float{});
  if (dtype == DType::f64) return f(double{});
  return f(int64_t{});
}

}  // namespace tide
