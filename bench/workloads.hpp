// The reference workloads of ../shared/BENCH.md as Tide models on fixed random data, shared
// by the benchmark binaries (tide_bench, tide_dist_bench).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "tide/autograd/variable.hpp"
#include "tide/nn/module.hpp"

namespace tide::bench {

// One workload: a model and the loss of one step on fixed data.
struct Workload {
  std::shared_ptr<Module> model;
  std::function<Variable()> loss;
};

// Workloads by name: mlp-64, mlp-256, mlp-1024, cnn-64, lstm-ae, transformer.
const std::map<std::string, std::function<Workload()>>& workloads();

}  // namespace tide::bench
