// The models `tide train --model NAME` builds: the shipped model files (models/NAME.toml).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tide/core/rng.hpp"
#include "tide/models/model_file.hpp"
#include "tide/nn/module.hpp"

namespace tide {

// The shipped networks, for inputs of `sample_shape` (such as [1, 28, 28]) and `classes`
// outputs (see each file for its layers):
//   mlp: Flatten - Linear(in, 1024) - ReLU - Linear(1024, 1024) - ReLU - Linear(1024, classes),
//        the hidden layers He-initialised for ReLU, the output layer as PyTorch does.
//   cnn: Conv2d(C, 32, 5x5, pad 2) - ReLU - MaxPool 2 - Conv2d(32, 64, 5x5, pad 2) - ReLU -
//        MaxPool 2 - Flatten - Linear(64 H/4 W/4, 1024) - ReLU - Linear(1024, classes)
//   inception: conv-BN-ReLU, pool, two Inception blocks (1x1, 3x3, 5x5 and pooled 1x1
//        branches concatenated) with a pool between, global average pool, Linear
//   lstm, gru: the image read row by row (H steps of C*W features) by a 128-unit recurrent
//        layer; its final hidden state goes to a Linear classifier
//   transformer: rows as tokens, linear embedding (64) plus learned positions, two post-norm
//        encoder layers (4 heads, feed-forward 128, dropout 0.1), mean over tokens, Linear
//
// `options` set the arguments a model file declares (the mlp's: hidden, dropout, batch_norm);
// an option that differs from its default is an error for a file that does not declare it.
struct ModelOptions {
  int64_t hidden = 1024;    // mlp: units of each of the two hidden layers
  double dropout = 0;       // mlp: probability of dropping a hidden unit in training
  bool batch_norm = false;  // mlp: BatchNorm1d before each hidden ReLU (the Linear has no bias)
  uint64_t seed = 0;        // dropout masks: RngStream(seed, dropout, {layer, step, call})
};

// The arguments `options` give a model file: those that differ from their defaults.
ModelArguments model_arguments(const ModelOptions& options);

// Builds shipped model `name`, with weights drawn from `rng`. Throws listing the known names
// for an unknown one.
std::shared_ptr<Module> make_model(const std::string& name, const Shape& sample_shape,
                                   int64_t classes, RngStream& rng,
                                   const ModelOptions& options = {});

std::vector<std::string> model_names();

}  // namespace tide
