// The Tide side of bench/run: times one training step (forward, backward, SGD with momentum
// 0.9) of a reference workload from ../shared/BENCH.md and prints one JSON line:
//   {"workload": "mlp-64", "median_ms": 2.1, "steps": 30, "threads": 2, "precision": "f32"}
// --precision bf16 runs the step inside an Autocast scope (f32 master weights); --gemm N
// times an N x N x N product instead, and adds its "gflops".
#include <algorithm>
#include <chrono>
#include <functional>
#include <map>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "bench/workloads.hpp"
#include "tide/autograd/autocast.hpp"
#include "tide/core/options.hpp"
#include "tide/kernels/gemm.hpp"
#include "tide/kernels/parallel.hpp"
#include "tide/optim/sgd.hpp"

namespace tide {
namespace {

using bench::Workload;

// The median as Python's statistics.median takes it (torch_bench.py, and libtorch_bench):
// the mean of the two middle values of an even count.
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

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
  return median(times);
}

// The median time of one n x n x n product C = A B of Tide's gemm in `precision`: the
// machine's GEMM rate, the limit of the workloads made of products.
double median_gemm_ms(int64_t n, Precision precision, int warmup, int steps) {
  const auto size = static_cast<size_t>(n * n);
  std::vector<float> a(size), b(size), c(size);
  for (size_t i = 0; i < size; ++i) {
    a[i] = static_cast<float>(i % 7) * 0.125f - 0.375f;
    b[i] = static_cast<float>(i % 5) * 0.25f - 0.5f;
  }
  std::vector<double> times;
  for (int i = 0; i < warmup + steps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    gemm(c.data(), a.data(), b.data(), false, false, n, n, n, 1.0f, 0.0f, nullptr, false,
         precision);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (i >= warmup) times.push_back(ms);
  }
  return median(times);
}

}  // namespace
}  // namespace tide
int main(int argc, char** argv) {
  CLI::App app{"Times one training step of a reference workload"};
  std::string name;
  int warmup = 5, steps = 30, threads = 0;
  int64_t gemm_n = 0;
  std::string precision = "f32";
  bool list = false;
  app.add_flag("--list", list, "Print the workload names");
  app.add_option("--workload", name, "Workload name");
  app.add_option("--gemm", gemm_n, "Time an N x N x N product instead of a workload")
      ->check(CLI::Range(int64_t{1}, int64_t{8192}));
  app.add_option("--warmup", warmup, "Untimed steps first")->check(CLI::NonNegativeNumber);
  app.add_option("--steps", steps, "Timed steps")->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "Threads (0: one per core)");
  app.add_option("--precision", precision, "f32 or bf16")->check(CLI::IsMember({"f32", "bf16"}));
  CLI11_PARSE(app, argc, argv);
  if (list) {
    for (const auto& [n, make] : tide::bench::workloads()) fmt::print("{}\n", n);
    return 0;
  }
  const auto it = tide::bench::workloads().find(name);
  if (gemm_n == 0 && it == tide::bench::workloads().end()) {
    fmt::print(stderr, "tide_bench: unknown workload '{}' (see --list)\n", name);
    return 2;
  }
  try {
    tide::set_num_threads(threads);
    std::string why;
    const tide::Precision asked = tide::parse_choice<tide::Precision>(precision, "precision");
    if (tide::runnable_precision(asked, &why) != asked) {
      fmt::print(stderr, "tide_bench: {}\n", why);
      return 3;
    }
    if (gemm_n > 0) {
      const double ms = tide::median_gemm_ms(gemm_n, asked, warmup, steps);
      const double flops = 2.0 * static_cast<double>(gemm_n * gemm_n * gemm_n);
      fmt::print(
          "{{\"workload\": \"gemm-{}\", \"median_ms\": {:.4f}, \"gflops\": {:.1f}, "
          "\"steps\": {}, \"threads\": {}, \"precision\": \"{}\"}}\n",
          gemm_n, ms, flops / ms / 1e6, steps, tide::num_threads(), precision);
      return 0;
    }
    tide::Autocast scope(asked);
    tide::bench::Workload w = it->second();
    const double ms = tide::median_step_ms(w, warmup, steps);
    fmt::print(
        "{{\"workload\": \"{}\", \"median_ms\": {:.4f}, \"steps\": {}, \"threads\": {}, "
        "\"precision\": \"{}\"}}\n",
        name, ms, steps, tide::num_threads(), precision);
  } catch (const tide::Error& e) {
    fmt::print(stderr, "tide_bench: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
