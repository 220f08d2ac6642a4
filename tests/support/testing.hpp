// Helpers shared by the tests.
#pragma once

#include <functional>
#include <string>

#include "tide/core/error.hpp"

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

}  // namespace tide::testing
