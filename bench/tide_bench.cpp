// The Tide side of bench/run: times one training step (forward, backward, SGD with momentum
// 0.9) of a reference workload from ../shared/BENCH.md and prints one JSON line:
//   {"workload": "mlp-64", "median_ms": 2.1, "steps": 30, "threads": 2}
#include <algorithm>
#include <chrono>
#include <functional>
#include <map>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "bench/workloads.hpp"
#include "tide/kernels/parallel.hpp"
#include "tide/optim/sgd.hpp"

namespace tide {
namespace {

using bench::Workload;

double median_step_ms(Workload& w, int warmup, int steps) {
  Sgd opt(w.model->parameters(), SgdOptions{.lr = 0.01, .momentum = 0.9});
  std::vector<double> times;
  for (int i = 0; i < warmup + steps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    opt.zero_grad();
    w.loss().backward();
    opt.step();
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (i >= warmup) times.push_back(ms);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace
}  // namespace tide
int main(int argc, char** argv) {
  CLI::App app{"Times one training step of a reference workload"};
  std::string name;
  int warmup = 5, steps = 30, threads = 0;
  bool list = false;
  app.add_flag("--list", list, "Print the workload names");
  app.add_option("--workload", name, "Workload name");
  app.add_option("--warmup", warmup, "Untimed steps first")->check(CLI::NonNegativeNumber);
  app.add_option("--steps", steps, "Timed steps")->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "Threads (0: one per core)");
  CLI11_PARSE(app, argc, argv);
  if (list) {
    for (const auto& [n, make] : tide::bench::workloads()) fmt::print("{}\n", n);
    return 0;
  }
  const auto it = tide::bench::workloads().find(name);
  if (it == tide::bench::workloads().end()) {
    fmt::print(stderr, "tide_bench: unknown workload '{}' (see --list)\n", name);
    return 2;
  }
  try {
    tide::set_num_threads(threads);
    tide::bench::Workload w = it->second();
    const double ms = tide::median_step_ms(w, warmup, steps);
    fmt::print("{{\"workload\": \"{}\", \"median_ms\": {:.4f}, \"steps\": {}, \"threads\": {}}}\n",
               name, ms, steps, tide::num_threads());
  } catch (const tide::Error& e) {
    fmt::print(stderr, "tide_bench: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
