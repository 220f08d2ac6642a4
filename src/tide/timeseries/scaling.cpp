// `tide experiment scaling`: measure here, check, predict there.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "tide/core/log.hpp"
#include "tide/distributed/gather.hpp"
#include "tide/distributed/scaling_model.hpp"
#include "tide/kernels/parallel.hpp"
#include "tide/report/files.hpp"
#include "tide/report/plot.hpp"
#include "tide/session/training_run.hpp"
#include "tide/timeseries/series.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

// The median step of one timed run of the autoencoder on a team.
struct Timed {
  int ranks = 1, threads = 1;
  int64_t batch = 0;
  StepTiming timing;
  std::vector<int64_t> elements;
};

Json to_json(const Timed& t) {
  return {{"ranks", t.ranks},
          {"threads", t.threads},
          {"batch", t.batch},
          {"forward", t.timing.forward},
          {"backward", t.timing.backward},
          {"reduce", t.timing.reduce},
          {"control", t.timing.control},
          {"apply", t.timing.apply},
          {"step", t.timing.step},
          {"elements", t.elements}};
}

Timed timed_of(const Json& j) {
  Timed t{.ranks = j.at("ranks").get<int>(),
          .threads = j.at("threads").get<int>(),
          .batch = j.at("batch").get<int64_t>(),
          .timing = {},
          .elements = {}};
  t.timing = StepTiming{.forward = j.at("forward").get<double>(),
                        .backward = j.at("backward").get<double>(),
                        .reduce = j.at("reduce").get<double>(),
                        .control = j.at("control").get<double>(),
                        .apply = j.at("apply").get<double>(),
                        .step = j.at("step").get<double>()};
  t.elements = j.at("elements").get<std::vector<int64_t>>();
  return t;
}

// Runs `body` on the ranks of `comm` with `member`, split into teams by `color`, while the
// others sleep; returns every rank's JSON (null for those that sat out), on every rank. A
// signal that stopped a run on any rank stops the experiment on all, as its runs would
// otherwise end at their first step.
std::vector<Json> run_teams(const Communicator& comm, bool member, int color,
                            const std::string& what,
                            const std::function<Json(const Communicator&)>& body) {
  const Communicator team = comm.split(color);
  Json result;
  if (member) result = body(team);
  comm.quiet_barrier(what);
  const std::vector<Json> all = allgather_json(
      comm, Json{{"signal", Session::termination_signal()}, {"result", result}}, what);
  std::vector<Json> results;
  for (const Json& j : all) {
    TIDE_CHECK(j.at("signal").get<int>() == 0,
               "the scaling experiment was stopped by a signal during {}", what);
    results.push_back(j.at("result"));
  }
  return results;
}

// Runs `body` on the first `ranks` ranks of `comm` (a team of their own) while the others
// sleep; every rank returns rank 0's JSON.
Json on_team(const Communicator& comm, int ranks, const std::string& what,
             const std::function<Json(const Communicator&)>& body) {
  const bool member = comm.rank() < ranks;
  return run_teams(comm, member, member ? 0 : 1, what, body)[0];
}

// Runs `body` on each of the first `ranks` ranks alone (a team of one each) while the
// others sleep; every rank returns the JSON of those ranks, in rank order.
Json side_by_side_runs(const Communicator& comm, int ranks, const std::string& what,
                       const std::function<Json(const Communicator&)>& body) {
  const bool member = comm.rank() < ranks;
  const std::vector<Json> all = run_teams(comm, member, member ? comm.rank() : ranks, what, body);
  return Json(std::vector<Json>(all.begin(), all.begin() + ranks));
}

// One timed run: `steps` steps of batch `batch` per rank on `threads` threads, no target.
Timed time_run(const TrainConfig& base, const SeriesTrainOptions& base_options, int64_t batch,
               int threads, int64_t steps, const std::string& dir, const Communicator& team) {
  TrainConfig c = base;
  c.batch_size = batch;
  c.threads = threads;
  c.max_steps = steps;
  c.epochs = std::max<int64_t>(c.epochs, 1000);  // the steps end it
  c.resume = ResumeFrom::never();
  c.run_dir = dir;
  SeriesTrainOptions o = base_options;
  o.target_loss = 0;
  const SeriesTrainSummary s = train_series_autoencoder(c, o, team);
  return Timed{.ranks = team.size(),
               .threads = threads,
               .batch = batch,
               .timing = s.timing,
               .elements = s.parameter_elements};
}

// Median seconds of `reps` calls of `op` on rank 0, after two more unmeasured.
template <typename Op>
double median_seconds(int reps, const Op& op) {
  std::vector<double> t;
  for (int i = 0; i < reps + 2; ++i) {
    const auto start = std::chrono::steady_clock::now();
    op();
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (i >= 2) t.push_back(s);
  }
  std::nth_element(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(t.size() / 2), t.end());
  return t[t.size() / 2];
}

// f32 allreduces of 4 B to 16 MiB (x4 apart) and the control collective, on `team`.
Json measure_collectives(const Communicator& team) {
  Json sizes = Json::array();
  for (int64_t bytes = 4; bytes <= (int64_t{16} << 20); bytes *= 4) {
    std::vector<float> data(static_cast<size_t>(bytes / 4), 1.0f);
    const int reps = static_cast<int>(std::clamp<int64_t>((int64_t{16} << 20) / bytes, 5, 200));
    const double s = median_seconds(reps, [&] {
      team.allreduce(data.data(), static_cast<int64_t>(data.size()), ReduceOp::sum,
                     "the scaling model's allreduce");
    });
    sizes.push_back({{"bytes", bytes}, {"seconds", s}});
  }
  // The control collective: five doubles from every rank to every rank.
  const Tensor local = Tensor::zeros({5}, DType::f64);
  const double control =
      median_seconds(200, [&] { (void)team.allgather(local, "the scaling model's allgather"); });
  return {{"ranks", team.size()}, {"allreduce", sizes}, {"control", control}};
}

MeasuredCollective collective_of(const Json& j) {
  MeasuredCollective m{.ranks = j.at("ranks").get<int>(), .points = {}};
  for (const Json& p : j.at("allreduce"))
    m.points.emplace_back(p.at("bytes").get<double>(), p.at("seconds").get<double>());
  return m;
}

// The compute of a measured step, the hooks and the rest of the loop in `other`.
StepCompute compute_of(const Timed& t, const ReducerOptions& r) {
  const StepTiming& m = t.timing;
  const double other =
      std::max(0.0, m.step - m.forward - m.backward - m.reduce - m.control - m.apply);
  return step_compute(m.forward, m.backward, m.apply, other, t.elements, 4, r);
}

std::string csv_path(const std::string& out, const char* name) {
  return (fs::path(out) / name).string();
}

}  // namespace

std::string scaling_experiment(const TrainConfig& config, const SeriesTrainOptions& options,
                               const ScalingOptions& sc, const std::string& out,
                               const Communicator& comm) {
  TIDE_CHECK(!sc.batch_sizes.empty(), "--batch-sizes is empty");
  for (const int64_t b : sc.batch_sizes)
    TIDE_CHECK(b >= 1, "--batch-sizes: {} is not a positive batch size", b);
  TIDE_CHECK(!sc.check_ranks.empty(), "--ranks is empty");
  for (const int r : sc.check_ranks) {
    TIDE_CHECK(r >= 1, "--ranks: {} is not a positive number of ranks", r);
    TIDE_CHECK(r <= comm.size(),
               "--ranks {}: the job has {} rank{}; launch it with mpirun -np {} or more", r,
               comm.size(), comm.size() > 1 ? "s" : "", r);
  }
  TIDE_CHECK(sc.max_nodes >= 1 && sc.max_nodes <= (1 << 20),
             "--max-nodes must be in [1, 1048576], got {}", sc.max_nodes);
  for (const int64_t g : sc.target_batches)
    TIDE_CHECK(g >= 1, "--target-batches: {} is not a positive batch size", g);
  TIDE_CHECK(sc.node_threads >= 0, "--node-threads must be 0 (all processors) or more, got {}",
             sc.node_threads);
  TIDE_CHECK(sc.steps >= 20, "--steps {}: at least 20 are needed (the first five are warm-up)",
             sc.steps);
  TIDE_CHECK(options.target_loss > 0, "--target-loss must be positive, got {}",
             options.target_loss);
  TIDE_CHECK(sc.target_batches.size() >= 2,
             "--target-batches: at least two global batches are needed to fit the steps to "
             "the target, got {}",
             sc.target_batches.size());
  TIDE_CHECK(config.grad_compression == GradCompression::none,
             "--grad-compression bf16: the scaling model measures and models f32 allreduces "
             "only");
  std::vector<Network> networks;
  for (const std::string& path : sc.networks) networks.push_back(load_network(path));
  fs::create_directories(out);

  const int cores = num_procs();
  const int node_threads = sc.node_threads > 0 ? sc.node_threads : cores;
  TIDE_CHECK(sc.repeats >= 1 && sc.repeats <= 100, "--repeats must be in [1, 100], got {}",
             sc.repeats);
  TIDE_CHECK(sc.check_threads >= 1, "--check-threads must be at least 1, got {}", sc.check_threads);
  auto threads_at = [&sc](int) { return sc.check_threads; };
  const int local = Communicator::world().local_size();

  // 1. The step's compute: for k ranks here, k ranks side by side on the cores, each
  // training alone (no gradient exchange), so that their compute shares the cores as in a
  // k-rank job; for a node, one rank on node_threads threads.
  // Each run is repeated, calibration and check in turn. Identical runs here differ by up to
  // 52 % from run to run (each run keeps one pace throughout, whichever it drew), so the
  // model is built from, and checked against, the fastest run of each: timeit's rule, the
  // slower runs being the machine's interference. The median runs are checked as well.
  std::map<std::pair<int, int64_t>, std::vector<Timed>> compute_runs;  // (side by side, batch)
  std::set<int> side_by_side(sc.check_ranks.begin(), sc.check_ranks.end());
  side_by_side.insert(1);
  auto calibrate = [&](int k, int rep) {
    const Json all =
        side_by_side_runs(comm, k, "the compute measurements", [&](const Communicator& t) {
          Json runs = Json::array();
          const int threads = threads_at(k);
          for (const int64_t b : sc.batch_sizes) {
            if (comm.rank() == 0)
              log_info(
                  "scaling: the step of batch {} on {} rank{} side by side, {} thread{} each "
                  "(run {} of {})",
                  b, k, k > 1 ? "s" : "", threads, threads > 1 ? "s" : "", rep + 1, sc.repeats);
            runs.push_back(to_json(time_run(config, options, b, threads, sc.steps,
                                            (fs::path(out) / "runs" /
                                             fmt::format("compute-{}x{}-batch{}-rank{}-run{}", k,
                                                         threads, b, comm.rank(), rep + 1))
                                                .string(),
                                            t)));
          }
          return runs;
        });
    // The slowest rank's step sets the pace of a synchronous one.
    for (size_t i = 0; i < sc.batch_sizes.size(); ++i) {
      Timed slowest;
      for (int r = 0; r < k; ++r) {
        const Timed t = timed_of(all.at(static_cast<size_t>(r)).at(i));
        if (r == 0 || t.timing.step > slowest.timing.step) slowest = t;
      }
      slowest.ranks = k;
      compute_runs[{k, sc.batch_sizes[i]}].push_back(slowest);
    }
  };
  auto by_step = [](std::vector<Timed> runs) {
    std::sort(runs.begin(), runs.end(),
              [](const Timed& a, const Timed& b) { return a.timing.step < b.timing.step; });
    return runs;
  };
  auto median_of = [](const std::vector<Timed>& sorted) { return sorted[(sorted.size() - 1) / 2]; };
  std::map<std::pair<int, int64_t>, Timed> compute, compute_median;  // the fastest, median runs

  // 2. Allreduce and control collective at each rank count of the check.
  std::map<int, MeasuredCollective> measured;
  std::map<int, double> control;
  auto measure = [&](int k) {
    const Json j = on_team(comm, k, "the allreduce measurements",
                           [](const Communicator& t) { return measure_collectives(t); });
    measured[k] = collective_of(j);
    control[k] = j.at("control").get<double>();
  };

  // 3. The check: real runs on 1, 2, ... ranks against the model's prediction.
  struct Check {
    int ranks, threads;
    int64_t batch;
    double measured, predicted;                // the fastest runs
    double median_measured, median_predicted;  // the median runs
    double slowest;
    StepTiming parts;  // of the fastest run
  };
  std::map<std::pair<int, int64_t>, std::vector<Timed>> check_runs;
  auto check_run = [&](int k, int rep) {
    for (const int64_t b : sc.batch_sizes) {
      const Json j = on_team(comm, k, "a run of the check", [&](const Communicator& t) {
        log_info("scaling: check run on {} rank{}, batch {} (run {} of {})", k, k > 1 ? "s" : "", b,
                 rep + 1, sc.repeats);
        return to_json(time_run(
            config, options, b, threads_at(k), sc.steps,
            (fs::path(out) / "runs" / fmt::format("check-ranks{}-batch{}-run{}", k, b, rep + 1))
                .string(),
            t));
      });
      check_runs[{k, b}].push_back(timed_of(j));
    }
  };
  // Most ranks first, so that the runs on one thread come before those whose OpenMP team's
  // idle threads go on spinning on a core after the run.
  const std::set<int> to_check(sc.check_ranks.begin(), sc.check_ranks.end());
  for (auto k = side_by_side.rbegin(); k != side_by_side.rend(); ++k) {
    if (to_check.count(*k) && *k > 1) measure(*k);
    for (int rep = 0; rep < sc.repeats; ++rep) {
      calibrate(*k, rep);
      if (to_check.count(*k)) check_run(*k, rep);
    }
  }
  for (const auto& [key, runs] : compute_runs) {
    const std::vector<Timed> sorted = by_step(runs);
    compute[key] = sorted.front();
    compute_median[key] = median_of(sorted);
  }
  std::vector<Check> checks;
  for (const int k : to_check)
    for (const int64_t b : sc.batch_sizes) {
      const std::vector<Timed> runs = by_step(check_runs.at({k, b}));
      const int threads = threads_at(k);
      auto predict = [&](const Timed& calibration) {
        const StepCompute s = compute_of(calibration, reducer_options(config, local, threads));
        return (k == 1 ? predict_step(s, nullptr, 0)
                       : predict_step(
                             s, [&m = measured.at(k)](double bytes) { return m.seconds(bytes); },
                             control.at(k)))
            .step;
      };
      checks.push_back({k, threads, b, runs.front().timing.step, predict(compute.at({k, b})),
                        median_of(runs).timing.step, predict(compute_median.at({k, b})),
                        runs.back().timing.step, runs.front().timing});
    }

  // A node: one rank on node_threads (the same runs as k = 1 unless --node-threads differs).
  std::map<int64_t, Timed> node;
  if (node_threads == threads_at(1)) {
    for (const int64_t b : sc.batch_sizes) node[b] = compute.at({1, b});
  } else {
    // Repeated as the check's runs are, and the fastest kept.
    const Json all = on_team(comm, 1, "the compute measurements", [&](const Communicator& t) {
      Json runs = Json::array();
      for (int rep = 0; rep < sc.repeats; ++rep)
        for (const int64_t b : sc.batch_sizes)
          runs.push_back(to_json(
              time_run(config, options, b, node_threads, sc.steps,
                       (fs::path(out) / "runs" /
                        fmt::format("compute-node-{}-batch{}-run{}", node_threads, b, rep + 1))
                           .string(),
                       t)));
      return runs;
    });
    std::map<int64_t, std::vector<Timed>> node_runs;
    for (const Json& j : all) {
      const Timed t = timed_of(j);
      node_runs[t.batch].push_back(t);
    }
    for (const auto& [b, runs] : node_runs) node[b] = by_step(runs).front();
  }

  std::string md = fmt::format(
      "# Scaling model of `tide timeseries train` (the LSTM autoencoder)\n\n"
      "Measured on this machine: {} processor{}, {} rank{} in the job.\n\n",
      cores, cores > 1 ? "s" : "", comm.size(), comm.size() > 1 ? "s" : "");

  md += fmt::format(
      "## Check against runs here\n\nEvery run is repeated {} times (each run's step: its "
      "median step). The model is built from the fastest calibration runs and checked against "
      "the fastest real runs; the same for the median runs, beside them.\n\n"
      "| ranks | threads each | batch per rank | measured step (ms) | predicted (ms) | error | "
      "median run (ms) | predicted from medians (ms) | error | slowest run (ms) |\n"
      "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
      sc.repeats);
  std::string check_csv =
      "ranks,threads,batch,measured_step_s,predicted_step_s,error_pct,measured_forward_s,"
      "measured_backward_s,measured_reduce_s,measured_control_s,measured_apply_s,runs,"
      "median_step_s,median_predicted_step_s,median_error_pct,slowest_step_s\n";
  double worst = 0, worst_median = 0;
  for (const Check& c : checks) {
    const double err = 100.0 * (c.predicted - c.measured) / c.measured;
    const double median_err = 100.0 * (c.median_predicted - c.median_measured) / c.median_measured;
    worst = std::max(worst, std::abs(err));
    worst_median = std::max(worst_median, std::abs(median_err));
    check_csv += fmt::format(
        "{},{},{},{:.6f},{:.6f},{:.1f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{},{:.6f},{:.6f},{:.1f},"
        "{:.6f}\n",
        c.ranks, c.threads, c.batch, c.measured, c.predicted, err, c.parts.forward,
        c.parts.backward, c.parts.reduce, c.parts.control, c.parts.apply, sc.repeats,
        c.median_measured, c.median_predicted, median_err, c.slowest);
    md += fmt::format(
        "| {}{} | {} | {} | {:.3f} | {:.3f} | {:+.1f} % | {:.3f} | {:.3f} | {:+.1f} % | {:.3f} |\n",
        c.ranks, c.ranks * c.threads > cores ? " (oversubscribed)" : "", c.threads, c.batch,
        1e3 * c.measured, 1e3 * c.predicted, err, 1e3 * c.median_measured, 1e3 * c.median_predicted,
        median_err, 1e3 * c.slowest);
  }
  md += fmt::format("\nLargest error: {:.1f} % (fastest runs), {:.1f} % (median runs).\n\n", worst,
                    worst_median);

  // What is measured so far is written now, in case the runs to the target fail.
  if (comm.rank() == 0) {
    std::string calib_csv =
        "side_by_side,threads,batch,forward_s,backward_s,apply_s,other_s,step_s\n";
    for (const auto& [key, t] : compute) {
      const StepTiming& m = t.timing;
      calib_csv += fmt::format(
          "{},{},{},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f}\n", t.ranks, t.threads, t.batch, m.forward,
          m.backward, m.apply,
          std::max(0.0, m.step - m.forward - m.backward - m.reduce - m.control - m.apply), m.step);
    }
    std::string ar_csv = "ranks,bytes,seconds,bytes_per_s\n";
    for (const auto& [k, m] : measured)
      for (const auto& [bytes, s] : m.points)
        ar_csv += fmt::format("{},{:.0f},{:.9f},{:.0f}\n", k, bytes, s, bytes / s);
    write_text_file(csv_path(out, "calibration.csv"), calib_csv);
    write_text_file(csv_path(out, "allreduce.csv"), ar_csv);
    write_text_file(csv_path(out, "check.csv"), check_csv);
  }

  // 4. Steps to the target loss against the global batch, on one rank.
  const Json targets = on_team(comm, 1, "the runs to the target loss", [&](const Communicator& t) {
    Json all = Json::array();
    for (const int64_t g : sc.target_batches) {
      TrainConfig c = config;
      c.batch_size = g;
      c.threads = node_threads;
      c.resume = ResumeFrom::never();
      c.run_dir = (fs::path(out) / "runs" / fmt::format("target-batch{}", g)).string();
      log_info("scaling: global batch {} to training loss {}", g, options.target_loss);
      const SeriesTrainSummary s = train_series_autoencoder(c, options, t);
      all.push_back({{"batch", g}, {"steps", s.target_step}});
    }
    return all;
  });
  std::vector<std::pair<double, double>> reached;
  std::string target_csv = "global_batch,steps,fitted_steps\n";
  for (const Json& j : targets)
    if (j.at("steps").get<int64_t>() > 0)
      reached.emplace_back(j.at("batch").get<double>(), j.at("steps").get<double>());
  if (reached.size() < 2) {
    std::string partial = "global_batch,steps\n";
    for (const Json& j : targets)
      partial += fmt::format("{},{}\n", j.at("batch").get<int64_t>(), j.at("steps").get<int64_t>());
    if (comm.rank() == 0) write_text_file(csv_path(out, "steps_to_target.csv"), partial);
    TIDE_FAIL(
        "tide experiment scaling: {} of the global batches {} reached --target-loss {} within "
        "--epochs {} (steps -1 in {}: not reached); at least two are needed to fit the steps to "
        "the target. Raise --epochs or --target-loss; the measurements so far are in {}",
        reached.size(), fmt::join(sc.target_batches, ","), options.target_loss, config.epochs,
        csv_path(out, "steps_to_target.csv"), out);
  }
  const StepsToTarget fit = fit_steps_to_target(reached);
  for (const Json& j : targets)
    target_csv += fmt::format("{},{},{:.1f}\n", j.at("batch").get<int64_t>(),
                              j.at("steps").get<int64_t>(), fit.at(j.at("batch").get<double>()));

  // 5. The networks: one rank per node on node_threads, 1 to max_nodes nodes.
  std::vector<int> nodes;
  for (int n = 1; n <= sc.max_nodes; n *= 2) nodes.push_back(n);
  std::string scaling_csv =
      "network,nodes,batch,global_batch,step_s,exposed_s,efficiency,steps,"
      "time_to_solution_s\n";
  md += fmt::format(
      "## Steps to a training loss of {}\n\nS(B) = S_min (1 + B_noise / B) fitted to {} global "
      "batches: S_min = {:.0f} steps, B_noise = {:.1f}.\n\n",
      options.target_loss, reached.size(), fit.s_min, fit.b_noise);

  for (const Network& net : networks) {
    md += fmt::format("## {}\n\n{}\n\nLatency {:.2f} us, {:.2f} GB/s per node. Sources: {}.\n\n",
                      net.name, net.description, net.latency_s * 1e6,
                      net.bandwidth_bytes_per_s / 1e9, fmt::join(net.sources, "; "));
    md += "| batch per rank | step at 1 node (ms) | efficiency at " + std::to_string(nodes.back()) +
          " | time to solution at 1 node (s) | best (s, nodes) | doubling gains < 10 % past |\n"
          "|---:|---:|---:|---:|---:|---:|\n";
    std::vector<Series> curves;
    for (const int64_t b : sc.batch_sizes) {
      const StepCompute s = compute_of(node.at(b), reducer_options(config, 1, node_threads));
      Series curve{.label = fmt::format("batch {} per node", b), .points = {}};
      std::vector<double> tts;
      double step1 = 0;
      for (const int n : nodes) {
        const StepPrediction p =
            n == 1 ? predict_step(s, nullptr, 0)
                   : predict_step(
                         s, [&net, n](double bytes) { return allreduce_seconds(net, bytes, n); },
                         allgather_seconds(net, 5 * 8, n));
        if (n == 1) step1 = p.step;
        const double global = static_cast<double>(b) * n;
        const double steps = fit.at(global);
        tts.push_back(steps * p.step);
        curve.points.emplace_back(n, tts.back());
        scaling_csv += fmt::format("{},{},{},{},{:.6f},{:.6f},{:.4f},{:.1f},{:.4f}\n", net.name, n,
                                   b, b * n, p.step, p.exposed, step1 / p.step, steps, tts.back());
      }
      const size_t best =
          static_cast<size_t>(std::min_element(tts.begin(), tts.end()) - tts.begin());
      const StepPrediction last = predict_step(
          s, [&net, n = nodes.back()](double bytes) { return allreduce_seconds(net, bytes, n); },
          allgather_seconds(net, 5 * 8, nodes.back()));
      md += fmt::format("| {} | {:.3f} | {:.0f} % | {:.2f} | {:.2f} at {} | {} |\n", b, 1e3 * step1,
                        100 * (nodes.back() == 1 ? 1.0 : step1 / last.step), tts[0], tts[best],
                        nodes[best], [&] {
                          const int n = diminishing_returns(nodes, tts);
                          return fmt::format("{} node{}", n, n > 1 ? "s" : "");
                        }());
      curves.push_back(curve);
    }
    md += "\n";
    if (comm.rank() == 0)
      draw_curves(
          curves,
          fmt::format("Predicted time to training loss {} on {}", options.target_loss, net.name),
          "nodes", "seconds", (fs::path(out) / fmt::format("scaling-{}.png", net.name)).string(),
          true, true);
  }
  md +=
      "## Assumptions\n\n"
      "- A node computes a step as this machine does with one rank on all its processors.\n"
      "- Gradient buckets as the Reducer lays them out; a bucket is ready when backward has "
      "done the share of its work that its parameters hold of all parameters.\n"
      "- Allreduce: the faster of recursive doubling and Rabenseifner's algorithm, no "
      "contention, no time for the sums themselves.\n"
      "- Steps to the target depend on the global batch only, as S_min (1 + B_noise / B).\n"
      "- The check's compute is measured with as many ranks side by side as it runs, each "
      "training alone (the slowest rank's step), so it shares the cores as the job does; the "
      "model adds the allreduces and the control collective measured at that rank count.\n";

  if (comm.rank() == 0) {
    write_text_file(csv_path(out, "steps_to_target.csv"), target_csv);
    write_text_file(csv_path(out, "scaling.csv"), scaling_csv);
    write_text_file(csv_path(out, "summary.md"), md);
  }
  return md;
}

}  // namespace tide
