// The Tide side of bench/run: times one training step (forward, backward, SGD with momentum
// 0.9) of a reference workload from ../shared/BENCH.md and prints one JSON line:
//   {"workload": "mlp-64", "median_ms": 2.1, "steps": 30, "threads": 2}
#include <algorithm>
#include <chrono>
#include <functional>
#include <map>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "tide/autograd/ops.hpp"
#include "tide/kernels/parallel.hpp"
#include "tide/optim/sgd.hpp"
#include "tide/tensor/random.hpp"
#include "tide/train/models.hpp"

namespace tide {
namespace {

// One workload: a model, a batch of inputs and labels.
struct Workload {
  std::shared_ptr<Module> model;
  Tensor inputs, labels;
};

// A model of `tide train` on a batch of random 1x28x28 images with random labels.
Workload classifier(const std::string& model, int64_t batch) {
  RngStream rng(0, RngPurpose::init);
  RngStream data(0, RngPurpose::data);
  Tensor labels = Tensor::empty({batch}, DType::i64);
  for (int64_t i = 0; i < batch; ++i)
    labels.data<int64_t>()[i] = static_cast<int64_t>(data.below(10));
  return {make_model(model, {1, 28, 28}, 10, rng), normal({batch, 1, 28, 28}, 0.0, 1.0, data),
          labels};
}

// Workloads by name (../shared/BENCH.md); later issues add rows.
const std::map<std::string, std::function<Workload()>>& workloads() {
  static const std::map<std::string, std::function<Workload()>> table = {
      {"mlp-64", [] { return classifier("mlp", 64); }},
      {"mlp-256", [] { return classifier("mlp", 256); }},
      {"mlp-1024", [] { return classifier("mlp", 1024); }},
      {"cnn-64", [] { return classifier("cnn", 64); }},
  };
  return table;
}

double median_step_ms(Workload& w, int warmup, int steps) {
  Sgd opt(w.model->parameters(), SgdOptions{.lr = 0.01, .momentum = 0.9});
  const Variable x(w.inputs);
  std::vector<double> times;
  for (int i = 0; i < warmup + steps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    opt.zero_grad();
    cross_entropy((*w.model)(x), w.labels).backward();
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
    for (const auto& [n, make] : tide::workloads()) fmt::print("{}\n", n);
    return 0;
  }
  const auto it = tide::workloads().find(name);
  if (it == tide::workloads().end()) {
    fmt::print(stderr, "tide_bench: unknown workload '{}' (see --list)\n", name);
    return 2;
  }
  try {
    tide::set_num_threads(threads);
    tide::Workload w = it->second();
    const double ms = tide::median_step_ms(w, warmup, steps);
    fmt::print("{{\"workload\": \"{}\", \"median_ms\": {:.4f}, \"steps\": {}, \"threads\": {}}}\n",
               name, ms, steps, tide::num_threads());
  } catch (const tide::Error& e) {
    fmt::print(stderr, "tide_bench: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
