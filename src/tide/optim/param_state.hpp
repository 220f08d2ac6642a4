// Per-parameter state of an optimizer: tensors by kind ("exp_avg", "square_avg", ...), each
// the shape of its parameter, zero until first used, saved as "<kind>.<index>"; and a step
// count, saved as "step".
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tide/autograd/variable.hpp"
#include "tide/tensor/safetensors.hpp"

namespace tide {

class ParamState {
 public:
  ParamState(const std::vector<Variable>& params, std::vector<std::string> kinds);
  // The state of `kind` for parameter i (zeros on first use).
  float* get(const std::string& kind, size_t i);
  TensorMap state_dict() const;
  // Throws naming the entry when `state` has one this optimizer (`who`) does not know, or
  // a tensor of the wrong shape.
  void load_state_dict(const TensorMap& state, const std::string& who);
  int64_t step = 0;

 private:
  std::vector<Shape> shapes_;
  std::map<std::string, std::vector<Tensor>> tensors_;
};

}  // namespace tide
