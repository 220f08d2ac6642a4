// The Tide side of bench/run's data-parallel figures, run under mpirun. Prints one JSON line
// on rank 0.
//
//   --mode step     times training steps (forward, backward with the Reducer averaging
//                   gradients as they complete, SGD) of a workload on every rank, with the
//                   batch of ../shared/BENCH.md per rank: weak scaling when run on 1 and on
//                   2 ranks. Interleaved with the same steps without communication and a
//                   raw allreduce of the gradient bytes, it reports the share of the
//                   allreduce hidden behind backward.
//   --mode reducer  times the Reducer summing one step's gradients once backward has left
//                   them in its buckets (finish(): the bucket allreduces, in order, and the
//                   gradients as views) against one raw MPI_Allreduce of the same bytes,
//                   interleaved; with 25 MB buckets (the layout without overlap) and with a
//                   1 MB first bucket (with overlap). The overheads are medians of paired
//                   ratios, which a slow spell of the host moves less than a ratio of medians.
#include <algorithm>
#include <chrono>
#include <optional>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "bench/workloads.hpp"
#include "tide/distributed/reducer.hpp"
#include "tide/distributed/replicate.hpp"
#include "tide/kernels/parallel.hpp"
#include "tide/optim/sgd.hpp"

namespace tide {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string step_mode(const std::string& name, bench::Workload& w, const Communicator& comm,
                      int warmup, int steps, bool overlap) {
  replicate_parameters(w.model->named_parameters(),
                       describe_parameters(w.model->named_parameters()), comm);
  Sgd opt(w.model->parameters(), SgdOptions{.lr = 0.01, .momentum = 0.9});
  std::optional<Reducer> reducer;
  if (comm.size() > 1)
    reducer.emplace(w.model->parameters(), comm, ReducerOptions{.overlap = overlap});
  int64_t elements = 0;
  for (const Variable& p : w.model->parameters()) elements += p.numel();
  Tensor raw = Tensor::full({elements}, 1.0);
  // Per round: a data-parallel step; the same step with no communication (each rank alone,
  // as busy as in the first); one raw allreduce of the gradient bytes.
  std::vector<double> with_comm, without_comm, raw_ms, overlap_share;
  for (int i = 0; i < warmup + steps; ++i) {
    for (const bool communicate : {true, false}) {
      comm.barrier();
      const auto t0 = Clock::now();
      opt.zero_grad();
      if (reducer && communicate) reducer->prepare(i);
      const Variable loss = w.loss();
      loss.backward(Tensor::full(loss.shape(), 1.0 / comm.size()));
      if (reducer && communicate) reducer->finish();
      opt.step();
      const double ms = ms_since(t0);
      if (i < warmup) continue;
      (communicate ? with_comm : without_comm).push_back(ms);
      if (reducer && communicate) overlap_share.push_back(reducer->last_times().hidden_fraction());
    }
    comm.barrier();
    const auto t0 = Clock::now();
    comm.allreduce(raw, ReduceOp::sum, "the raw allreduce");
    if (i >= warmup) raw_ms.push_back(ms_since(t0));
  }
  const double t = median(with_comm), alone = median(without_comm), a = median(raw_ms);
  // The share of communication that did not lengthen the step: 1 - (step - step without
  // communication) / allreduce time. Threads overlapping in time is not enough: on a
  // machine with no idle core the allreduce still takes the compute's cycles.
  const double hidden =
      comm.size() > 1 && a > 0 ? std::clamp(1.0 - (t - alone) / a, 0.0, 1.0) : 0.0;
  return fmt::format(
      "{{\"workload\": \"{}\", \"mode\": \"step\", \"ranks\": {}, \"median_ms\": {:.4f}, "
      "\"no_comm_ms\": {:.4f}, \"raw_allreduce_ms\": {:.4f}, \"hidden_share\": {:.4f}, "
      "\"thread_overlap\": {:.4f}, \"overlap\": {}, \"steps\": {}, \"threads\": {}}}",
      name, comm.size(), t, alone, a, hidden, median(overlap_share), overlap, steps, num_threads());
}

std::string reducer_mode(const std::string& name, bench::Workload& w, const Communicator& comm,
                         int warmup, int steps) {
  std::vector<Variable> params = w.model->parameters();
  w.loss().backward();  // one step's gradients
  std::vector<Tensor> grads;
  for (const Variable& p : params) grads.push_back(p.grad());
  int64_t elements = 0;
  for (const Variable& p : params) elements += p.numel();
  Tensor raw = Tensor::full({elements}, 1.0);
  // finish() of a Reducer with these options, once backward has left the step's gradients
  // where its ops write them: in the buffers (bucket slices) prepare() hands out.
  size_t buckets[2] = {0, 0};
  auto time_reducer = [&](bool overlap, int step) {
    Reducer reducer(params, comm, ReducerOptions{.overlap = overlap});
    buckets[overlap] = reducer.layout().size();
    reducer.prepare(step);
    for (size_t k = 0; k < params.size(); ++k) {
      params[k].zero_grad();
      Tensor g = params[k].new_grad();
      g.copy_from(grads[k]);
      params[k].accumulate_grad(g);
    }
    comm.barrier();
    const auto t0 = Clock::now();
    reducer.finish();
    return ms_since(t0);
  };
  std::vector<double> raw_ms, one_ms, two_ms, one_ratio, two_ratio;
  for (int i = 0; i < warmup + steps; ++i) {
    const double one = time_reducer(false, i);  // buckets of 25 MB
    const double two = time_reducer(true, i);   // a 1 MB first bucket, then 25 MB
    comm.barrier();
    const auto t0 = Clock::now();
    comm.allreduce(raw, ReduceOp::sum, "the raw allreduce");
    const double a = ms_since(t0);
    if (i < warmup) continue;
    raw_ms.push_back(a);
    one_ms.push_back(one);
    two_ms.push_back(two);
    one_ratio.push_back(one / a);
    two_ratio.push_back(two / a);
  }
  return fmt::format(
      "{{\"workload\": \"{}\", \"mode\": \"reducer\", \"ranks\": {}, \"bytes\": {}, "
      "\"raw_allreduce_ms\": {:.4f}, \"buckets\": {}, \"reducer_ms\": {:.4f}, "
      "\"overhead\": {:.4f}, \"buckets_small_first\": {}, \"reducer_small_first_ms\": {:.4f}, "
      "\"overhead_small_first\": {:.4f}, \"steps\": {}, \"threads\": {}}}",
      name, comm.size(), elements * 4, median(raw_ms), buckets[0], median(one_ms),
      median(one_ratio) - 1, buckets[1], median(two_ms), median(two_ratio) - 1, steps,
      num_threads());
}

}  // namespace
}  // namespace tide

int main(int argc, char** argv) {
  CLI::App app{"Times Tide's data-parallel training step or gradient reducer (under mpirun)"};
  std::string name, mode = "step";
  int warmup = 5, steps = 30, threads = 1;
  bool overlap = true;
  app.add_option("--workload", name, "Workload name")->required();
  app.add_option("--mode", mode, "step or reducer")->check(CLI::IsMember({"step", "reducer"}));
  app.add_option("--warmup", warmup, "Untimed steps first")->check(CLI::NonNegativeNumber);
  app.add_option("--steps", steps, "Timed steps")->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "Threads per rank (0: one per core)");
  app.add_option("--overlap", overlap, "step: reduce buckets during backward (true) or after");
  CLI11_PARSE(app, argc, argv);
  const auto it = tide::bench::workloads().find(name);
  if (it == tide::bench::workloads().end()) {
    fmt::print(stderr, "tide_dist_bench: unknown workload '{}'\n", name);
    return 2;
  }
  try {
    const tide::Communicator& comm = tide::Communicator::world();
    tide::set_num_threads(threads);
    tide::bench::Workload w = it->second();
    const std::string line = mode == "step" ? tide::step_mode(name, w, comm, warmup, steps, overlap)
                                            : tide::reducer_mode(name, w, comm, warmup, steps);
    if (comm.rank() == 0) fmt::print("{}\n", line);
  } catch (const tide::Error& e) {
    fmt::print(stderr, "tide_dist_bench: error: {}\n", e.what());
    tide::Communicator::abort_job(1);
    return 1;
  }
  tide::Communicator::finalize();
  return 0;
}
