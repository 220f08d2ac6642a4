// The models `tide train --model NAME` builds.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tide/core/rng.hpp"
#include "tide/nn/module.hpp"

namespace tide {

// Builds model `name` for inputs of `sample_shape` (such as [1, 28, 28]) and `classes`
// outputs, with weights drawn from `rng`. Throws listing the known names for an unknown one.
//   mlp: Flatten - Linear(in, 1024) - ReLU - Linear(1024, 1024) - ReLU - Linear(1024, classes),
//        the hidden layers He-initialised for ReLU, the output layer as PyTorch does.
//   cnn: Conv2d(C, 32, 5x5, pad 2) - ReLU - MaxPool 2 - Conv2d(32, 64, 5x5, pad 2) - ReLU -
//        MaxPool 2 - Flatten - Linear(64 H/4 W/4, 1024) - ReLU - Linear(1024, classes)
std::shared_ptr<Module> make_model(const std::string& name, const Shape& sample_shape,
                                   int64_t classes, RngStream& rng);

std::vector<std::string> model_names();

}  // namespace tide
