// The table of ops that drives the op tests: each row is checked by finite differences
// (test_gradcheck.cpp) and against its PyTorch fixture (test_fixtures.cpp). Adding an op
// means adding a row here and the same row in tests/fixtures/generate.py.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "tide/autograd/ops.hpp"

namespace tide::testing {

// How inputs are drawn for finite differences: away from points where the op has no
// derivative (relu at 0) or no value (log of a negative).
enum class InputKind { any, positive, away_from_zero };

struct OpCase {
  std::string name;  // also the fixture: tests/fixtures/ops/<name>.safetensors
  std::vector<Shape> shapes;
  std::vector<InputKind> kinds;
  std::function<Variable(const std::vector<Variable>&)> fn;
};

const std::vector<OpCase>& op_table();

// Test names and failure messages show a case by its name.
inline void PrintTo(const OpCase& c, std::ostream* os) {
  *os << c.name;
}

}  // namespace tide::testing
