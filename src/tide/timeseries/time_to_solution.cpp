#include "tide/timeseries/series.hpp"

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tide/core/log.hpp"
#include "tide/distributed/gather.hpp"
#include "tide/report/files.hpp"
#include "tide/report/plot.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;

}  // namespace

std::vector<TimeToSolution> time_to_solution(const TrainConfig& config,
                                             const SeriesTrainOptions& options,
                                             const std::vector<int64_t>& batch_sizes,
                                             const std::vector<int>& rank_counts,
                                             const std::string& out, const Communicator& comm) {
  TIDE_CHECK(options.target_loss > 0, "--target-loss must be positive, got {}",
             options.target_loss);
  TIDE_CHECK(!batch_sizes.empty(), "--batch-sizes is empty");
  TIDE_CHECK(!rank_counts.empty(), "--ranks is empty");
  for (const int r : rank_counts) {
    TIDE_CHECK(r >= 1, "--ranks: {} is not a positive number of ranks", r);
    TIDE_CHECK(r <= comm.size(),
               "--ranks {}: the job has {} rank{}; launch it with mpirun -np {} or more", r,
               comm.size(), comm.size() > 1 ? "s" : "", r);
  }
  for (const int64_t b : batch_sizes)
    TIDE_CHECK(b >= 1, "--batch-sizes: {} is not a positive batch size", b);
  std::vector<TimeToSolution> results;
  for (const int ranks : rank_counts) {
    const bool member = comm.rank() < ranks;
    const Communicator team = comm.split(member ? 0 : 1);
    if (member) {
      for (const int64_t b : batch_sizes) {
        TrainConfig c = config;
        c.batch_size = b;
        c.resume = ResumeFrom::never();
        c.run_dir = (fs::path(out) / fmt::format("ranks{}-batch{}", ranks, b)).string();
        if (team.rank() == 0)
          log_info("time to solution: {} rank{}, batch {}", ranks, ranks > 1 ? "s" : "", b);
        const SeriesTrainSummary s = train_series_autoencoder(c, options, team);
        results.push_back({.ranks = ranks,
                           .batch_size = b,
                           .global_batch = b * ranks,
                           .seconds = s.target_s,
                           .steps = s.target_step >= 0 ? s.target_step : s.steps,
                           .epochs = s.epochs,
                           .train_loss = s.target_s >= 0 ? s.target_loss_seen : s.train_loss,
                           .windows_per_sec = s.windows_per_sec,
                           .run_dir = s.run_dir});
      }
    }
    comm.barrier("the end of the runs on " + std::to_string(ranks) + " ranks");
  }
  // Rank 0 was in every team: its results go to every rank.
  nlohmann::ordered_json mine = nlohmann::ordered_json::array();
  for (const TimeToSolution& t : results)
    mine.push_back({{"ranks", t.ranks},
                    {"batch_size", t.batch_size},
                    {"seconds", t.seconds},
                    {"steps", t.steps},
                    {"epochs", t.epochs},
                    {"train_loss", t.train_loss},
                    {"windows_per_sec", t.windows_per_sec},
                    {"run_dir", t.run_dir}});
  const nlohmann::ordered_json all = allgather_json(comm, mine, "the time-to-solution results")[0];
  results.clear();
  for (const nlohmann::ordered_json& j : all) {
    TimeToSolution t{.ranks = j.at("ranks").get<int>(),
                     .batch_size = j.at("batch_size").get<int64_t>(),
                     .seconds = j.at("seconds").get<double>(),
                     .steps = j.at("steps").get<int64_t>(),
                     .epochs = j.at("epochs").get<double>(),
                     .train_loss = j.at("train_loss").get<double>(),
                     .windows_per_sec = j.at("windows_per_sec").get<double>(),
                     .run_dir = j.at("run_dir").get<std::string>()};
    t.global_batch = t.batch_size * t.ranks;
    results.push_back(t);
  }
  return results;
}

void write_time_to_solution_report(const std::string& out, double target_loss,
                                   const std::vector<TimeToSolution>& results) {
  std::string csv =
      "ranks,batch_size,global_batch,seconds,steps,epochs,train_loss,windows_per_sec\n";
  std::string md = fmt::format(
      "Time to a training loss of {} (mean squared error of the reconstruction, mean over "
      "--log-every steps)\n\n| ranks | batch per rank | global batch | seconds | steps | epochs | "
      "windows/s |\n|---:|---:|---:|---:|---:|---:|---:|\n",
      target_loss);
  std::map<int, Series> curves;
  for (const TimeToSolution& t : results) {
    csv += fmt::format("{},{},{},{},{},{},{},{}\n", t.ranks, t.batch_size, t.global_batch,
                       t.seconds, t.steps, t.epochs, t.train_loss, t.windows_per_sec);
    md += fmt::format("| {} | {} | {} | {} | {} | {:.2f} | {:.0f} |\n", t.ranks, t.batch_size,
                      t.global_batch,
                      t.seconds >= 0 ? fmt::format("{:.2f}", t.seconds)
                                     : fmt::format("not reached (loss {:.4f})", t.train_loss),
                      t.steps, t.epochs, t.windows_per_sec);
    Series& curve = curves[t.ranks];
    curve.label = fmt::format("{} rank{}", t.ranks, t.ranks > 1 ? "s" : "");
    if (t.seconds >= 0) curve.points.emplace_back(static_cast<double>(t.batch_size), t.seconds);
  }
  write_text_file((fs::path(out) / "time_to_solution.csv").string(), csv);
  write_text_file((fs::path(out) / "summary.md").string(), md);
  std::vector<Series> lines;
  for (auto& [ranks, curve] : curves)
    if (!curve.points.empty()) lines.push_back(curve);
  if (!lines.empty())
    draw_curves(lines, fmt::format("Time to training loss {}", target_loss), "batch size per rank",
                "seconds", (fs::path(out) / "time_to_solution.png").string());
}

}  // namespace tide
