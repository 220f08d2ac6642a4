// `--trace` and `tide profile` as a user meets them: a 2-rank run's trace parses as JSON with
// both ranks as processes, every phase of each traced step lies within that step's span, the
// Reducer's allreduces sit on their own thread, nothing outside --trace-steps is kept, and
// `tide profile` reads the run back into a table.
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/testing.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const std::string kTide = std::string(TIDE_BINARY_DIR) + "/tide";
const std::string kMpirun = std::string(TIDE_SOURCE_DIR) + "/scripts/mpirun-local";

TEST(TraceFile, TwoRanksTraceTheirStepsAndTheProfileReadsThemBack) {
  const fs::path dir = fs::temp_directory_path() / "tide_trace_run";
  fs::remove_all(dir);
  // Overlap on, so that buckets are reduced on the Reducer's thread during backward; a
  // checkpoint at step 4, inside the window; the window through the last step, after which
  // the final checkpoint and evaluation lie outside every step.
  const auto r = testing::run_command(fmt::format(
      "{} -np 2 {} train --model mlp --max-steps 8 --threads 1 --overlap on --first-bucket-mb "
      "0.5 --checkpoint-every-steps 4 --trace trace.json --trace-steps 3-8 --run-dir {}",
      kMpirun, kTide, dir.string()));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("trace: "));
  const nlohmann::json doc =
      nlohmann::json::parse(testing::read_bytes((dir / "trace.json").string()));
  ASSERT_TRUE(doc.at("traceEvents").is_array());

  std::map<std::pair<int, int>, std::string> threads;  // (pid, tid) -> name
  std::set<std::string> processes;
  struct Span {
    double begin, end;
  };
  std::map<std::pair<int, int64_t>, Span> steps;  // (pid, step)
  std::vector<nlohmann::json> phases;
  for (const nlohmann::json& e : doc["traceEvents"]) {
    if (e["ph"] == "M") {
      if (e["name"] == "thread_name") threads[{e["pid"], e["tid"]}] = e["args"]["name"];
      if (e["name"] == "process_name") processes.insert(e["args"]["name"].get<std::string>());
      continue;
    }
    ASSERT_EQ(e["ph"], "X");
    const int64_t step = e["args"]["step"];
    EXPECT_GE(step, 3);
    EXPECT_LE(step, 8);
    if (e["name"] == "step")
      steps[{e["pid"], step}] = {e["ts"], e["ts"].get<double>() + e["dur"].get<double>()};
    else
      phases.push_back(e);
  }
  EXPECT_EQ(processes, (std::set<std::string>{"rank 0", "rank 1"}));
  EXPECT_EQ(steps.size(), 2u * 6u);            // steps 3..8 on both ranks
  std::map<int, std::set<std::string>> names;  // by pid
  bool on_reducer_thread = false;
  for (const nlohmann::json& e : phases) {
    const int pid = e["pid"];
    const std::string name = e["name"];
    const std::string thread = threads[{pid, e["tid"].get<int>()}];
    names[pid].insert(name);
    const auto step = steps.find({pid, e["args"]["step"].get<int64_t>()});
    ASSERT_NE(step, steps.end()) << e.dump();
    const double begin = e["ts"], end = begin + e["dur"].get<double>();
    // Within the step's span (the clock is printed to the nanosecond).
    EXPECT_GE(begin, step->second.begin - 1e-3) << e.dump();
    EXPECT_LE(end, step->second.end + 1e-3) << e.dump();
    if (name == "allreduce") {
      EXPECT_GT(e["args"]["bytes"].get<int64_t>(), 0);
      EXPECT_GE(e["args"]["bucket"].get<int64_t>(), 0);
      if (thread == "reducer") on_reducer_thread = true;
    } else {
      EXPECT_EQ(thread, "loop") << e.dump();
    }
  }
  for (int pid : {0, 1})
    for (const char* phase : {"forward", "backward", "reduce", "control", "apply", "allreduce"})
      EXPECT_TRUE(names[pid].count(phase)) << "rank " << pid << " has no " << phase;
  EXPECT_TRUE(names[0].count("checkpoint"));  // rank 0 writes them
  EXPECT_TRUE(on_reducer_thread);

  const auto profile = testing::run_command(fmt::format("{} profile {}", kTide, dir.string()));
  ASSERT_EQ(profile.status, 0) << profile.out;
  EXPECT_THAT(profile.out, HasSubstr("6 steps on 2 ranks"));
  // The phases' shares add up to the step, and some backward hid some allreduce.
  double shares = 0;
  std::istringstream table(profile.out);
  for (std::string line; std::getline(table, line);)
    if (line.rfind("| ", 0) == 0 && line.find(" %") != std::string::npos)
      shares += std::stod(line.substr(line.rfind("| ", line.size() - 4) + 2));
  EXPECT_NEAR(shares, 100.0, 0.6) << profile.out;
  const size_t hidden = profile.out.find("ms per step, ");
  ASSERT_NE(hidden, std::string::npos) << profile.out;
  const double hidden_pct = std::stod(profile.out.substr(hidden + 13));
  EXPECT_GT(hidden_pct, 0) << profile.out;
  EXPECT_LE(hidden_pct, 100) << profile.out;
  EXPECT_THAT(profile.out, HasSubstr("| checkpoint |"));

  // Bad input: one line naming what is wrong.
  const auto steps_bad = testing::run_command(fmt::format(
      "{} train --model mlp --max-steps 1 --trace t.json --trace-steps 6-3 --run-dir {}", kTide,
      (dir / "bad").string()));
  EXPECT_EQ(steps_bad.status, 1);
  EXPECT_THAT(steps_bad.out, HasSubstr("--trace-steps '6-3': expected A-B"));
  const fs::path not_trace = dir / "config.toml";
  const auto bad = testing::run_command(fmt::format("{} profile {}", kTide, not_trace.string()));
  EXPECT_EQ(bad.status, 1);
  EXPECT_THAT(bad.out, HasSubstr("config.toml: not a trace written by --trace"));
  // A trace cut short: its last line gone.
  const std::string whole = testing::read_bytes((dir / "trace.json").string());
  std::ofstream(dir / "cut.json") << whole.substr(0, whole.rfind("\n]"));
  const auto cut =
      testing::run_command(fmt::format("{} profile {}", kTide, (dir / "cut.json").string()));
  EXPECT_EQ(cut.status, 1);
  EXPECT_THAT(cut.out, HasSubstr("cut.json: cut short"));
  // A rank without --trace beside one with it: every rank stops at the start, saying so.
  const auto mixed = testing::run_command(fmt::format(
      "{} -np 1 {} train --model mlp --max-steps 2 --threads 1 --trace t.json --run-dir {} : -np "
      "1 {} train --model mlp --max-steps 2 --threads 1 --run-dir {}",
      kMpirun, kTide, (dir / "mixed").string(), kTide, (dir / "mixed").string()));
  EXPECT_NE(mixed.status, 0);
  EXPECT_THAT(mixed.out, HasSubstr("--trace is given to rank 0 but not to rank 1"));
  const auto windows = testing::run_command(fmt::format(
      "{} -np 1 {} train --model mlp --max-steps 2 --threads 1 --trace t.json --trace-steps 1-2 "
      "--run-dir {} : -np 1 {} train --model mlp --max-steps 2 --threads 1 --trace t.json "
      "--trace-steps 1 --run-dir {}",
      kMpirun, kTide, (dir / "windows").string(), kTide, (dir / "windows").string()));
  EXPECT_NE(windows.status, 0);
  EXPECT_THAT(windows.out, HasSubstr("--trace-steps: rank 0 traces '1-2', rank 1 '1'"));
}

}  // namespace
}  // namespace tide
