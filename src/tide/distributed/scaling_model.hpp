// A model of synchronous data-parallel training on many nodes, from what was measured on
// one: the compute of a step (forward, backward, the optimizer, the hooks), the gradient
// buckets the Reducer would form, and either an allreduce measured here or a network
// described by a file. It predicts a step's time as the Reducer runs it: buckets become
// ready during backward in reverse parameter order and are reduced one after another on
// the Reducer's thread (with overlap), or all after backward (without); then the control
// collective and the update. With a model of how many steps a global batch needs to reach
// a loss, it predicts the time to solution.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tide/distributed/reducer_options.hpp"

namespace tide {

// The network between nodes, as a description file gives it (TOML):
//   name = "..."; description = "..."; topology = "torus3d" | "fat-tree" | ...
//   latency_us = 1.0      # one message between two nodes, end to end
//   bandwidth_gbs = 3.45  # GB/s into or out of one node while every node sends
//   sources = ["...", ...]
struct Network {
  std::string name, description, topology;
  double latency_s = 0;
  double bandwidth_bytes_per_s = 0;
  std::vector<std::string> sources;
};
// A description file, or the name of a shipped one (networks/NAME.toml, compiled in:
// gemini-torus, infiniband-100g). Errors name the file and the key.
Network load_network(const std::string& name_or_path);
// The shipped descriptions' texts, by name.
const std::vector<std::pair<std::string_view, std::string_view>>& shipped_network_texts();

// Seconds to allreduce `bytes` over `nodes` on `net` (0 for one node): the faster of
// recursive doubling (log2 p exchanges of the whole message) and Rabenseifner's
// reduce-scatter then allgather (2 log2 p messages, 2 (p-1)/p of the bytes each way), as MPI
// libraries choose by size. A count that is not a power of two first folds the extra nodes
// in and at the end sends them the result (two messages of the whole). No contention is modelled:
// each node's traffic gets the bandwidth of the file, which is optimistic where partners are far
// apart on a torus.
double allreduce_seconds(const Network& net, double bytes, int nodes);
// Every node's `bytes_per_node` to every node (recursive doubling): the control collective.
double allgather_seconds(const Network& net, double bytes_per_node, int nodes);

// Allreduce times measured at one rank count: (bytes, seconds) by size; between and beyond
// the sizes, interpolated linearly in log(bytes)-log(seconds).
struct MeasuredCollective {
  int ranks = 1;
  std::vector<std::pair<double, double>> points;  // ascending bytes
  double seconds(double bytes) const;
};

// One step of one rank, measured (seconds), and what it reduces.
struct StepCompute {
  double forward = 0, backward = 0;
  double apply = 0;                   // clipping and the optimizer
  double other = 0;                   // the hooks and the rest of the loop
  std::vector<int64_t> bucket_bytes;  // in the order the Reducer reduces them
  std::vector<double> ready_at;       // share of backward done when each is ready (0..1]
  bool overlap = false;
};
// The step of a model with parameters of `elements` each (the model's order), `element_bytes`
// wide, the Reducer laid out by `options`. A bucket is taken to be ready when backward has
// done the share of its work that the parameters reduced so far hold of all of them.
StepCompute step_compute(double forward, double backward, double apply, double other,
                         const std::vector<int64_t>& elements, int64_t element_bytes,
                         const ReducerOptions& options);

struct StepPrediction {
  double step = 0;       // seconds
  double compute = 0;    // forward + backward + apply + other
  double allreduce = 0;  // the buckets' allreduces, overlapped or not
  double exposed = 0;    // of them, after backward ended
  double control = 0;
};
// `allreduce(bytes)`: one bucket's time; `control`: the control collective's. With one rank
// pass nullptr and 0.
StepPrediction predict_step(const StepCompute& s, const std::function<double(double)>& allreduce,
                            double control);

// Steps to a target loss against the global batch B: S(B) = S_min (1 + B_noise / B)
// (McCandlish, Kaplan, Amodei et al., "An Empirical Model of Large-Batch Training", 2018):
// below the noise scale a larger batch saves steps almost in proportion, above it hardly.
struct StepsToTarget {
  double s_min = 0, b_noise = 0;
  double at(double batch) const { return s_min * (1 + b_noise / batch); }
};
// Least squares of S = a + c / B over (batch, steps) pairs (at least two distinct batches),
// a = S_min, c = S_min B_noise; a negative c (more steps for smaller batches never seen) is
// taken as 0.
StepsToTarget fit_steps_to_target(const std::vector<std::pair<double, double>>& batch_steps);

// The node count past which doubling gains less than `gain` (0.1: 10 %): the first n of
// `nodes` (ascending, each the double of the one before) with time(2n) > (1 - gain) time(n);
// the last count when every doubling gains more.
int diminishing_returns(const std::vector<int>& nodes, const std::vector<double>& seconds,
                        double gain = 0.1);

}  // namespace tide
