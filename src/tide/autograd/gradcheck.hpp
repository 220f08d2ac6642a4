// Finite-difference gradient checking.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tide/autograd/variable.hpp"

namespace tide {

struct GradcheckOptions {
  double eps = 1e-6;   // central-difference step
  double atol = 1e-6;  // |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-5;
  uint64_t seed = 0;  // for the random projection of the output
};

struct GradcheckResult {
  bool ok = true;
  double max_error = 0;  // largest |analytic - numeric| seen
  std::string report;    // the first mismatches: input, element, both values
};

// Checks the gradients that backward() computes for f at `inputs` against central finite
// differences. f's output is projected onto fixed random weights w, L = sum(f(x) * w), so
// every output element takes part. Inputs should be f64 (the reference path), where
// eps = 1e-6 leaves errors near 1e-9; each becomes a leaf that requires a gradient.
GradcheckResult gradcheck(const std::function<Variable(const std::vector<Variable>&)>& f,
                          const std::vector<Tensor>& inputs, GradcheckOptions options = {});

}  // namespace tide
