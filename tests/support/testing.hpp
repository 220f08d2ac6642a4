// Helpers shared by the tests.
#pragma once

#include <cmath>
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "tide/core/error.hpp"
#include "tide/tensor/tensor.hpp"

namespace tide::testing {

// The message of the tide::Error that f throws, or "no error".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// Fails the test unless `actual` is defined, has `expected`'s shape, and every element is
// within tol + tol * |expected| (the error names `what` and the element).
inline void expect_close(const Tensor& actual, const Tensor& expected, const std::string& what,
                         double tol = 1e-5) {
  ASSERT_TRUE(actual.defined()) << what << " is undefined";
  ASSERT_EQ(actual.shape(), expected.shape()) << what;
  const auto a = actual.to_vector(), e = expected.to_vector();
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_NEAR(a[i], e[i], tol + tol * std::abs(e[i])) << what << " element " << i;
}

}  // namespace tide::testing
