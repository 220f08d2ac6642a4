// `--trace FILE`: the run's timeline as Chrome trace events (JSON; Perfetto and
// chrome://tracing open it), every rank a process and every thread of it a thread, and
// `tide profile`'s reading of such a file back into where a step's time went.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tide/distributed/communicator.hpp"

namespace tide {

// Steps first..last of a run, from --trace-steps "A-B" (or "A": that step alone; empty: all);
// nullopt for anything else.
struct TraceSteps {
  int64_t first = 1, last = INT64_MAX;
};
std::optional<TraceSteps> parse_trace_steps(const std::string& text);

// The events a rank keeps on `ranks` ranks: 2 M in all.
int64_t trace_event_limit(int ranks);

// A run's trace, on every rank (a collective when there are several, traced or not): the
// ranks agree that they trace (`path` empty: they do not), rank 0 checks that it can write
// `path`, and the ranks start recording steps `steps` (parse_trace_steps) together. Throws on
// every rank alike when they disagree or the file cannot be written. Returns whether a trace
// started.
bool start_trace(const Communicator& comm, const std::string& path, const std::string& steps);

// Gathers every rank's recorded events (core/trace) to rank 0, which writes them to `path`
// (one event per line); a collective. On rank 0, the events written and those the ranks
// dropped past trace_event_limit; zeros elsewhere.
struct TraceWritten {
  int64_t events = 0, dropped = 0;
};
TraceWritten write_trace(const Communicator& comm, const std::string& path);

// Where the steps of a trace went, per phase, averaged over its ranks.
struct PhaseShare {
  std::string phase;
  double ms_per_step = 0;
  double share = 0;  // of the step
};
struct TraceProfile {
  int ranks = 0;
  int64_t steps = 0;                 // per rank
  double step_ms = 0;                // mean step
  std::vector<double> rank_step_ms;  // mean step of each rank
  std::vector<PhaseShare> phases;    // the loop's phases, then "other"
  double allreduce_ms = 0;           // per step, on either thread
  double hidden_share = 0;           // of the allreduce time, under backward
  int64_t dropped = 0;               // events the trace could not keep
};
// Reads a trace written by write_trace, a line at a time; throws naming the file, the line
// and what is wrong. Phases count inside their step's span, on the loop's thread; the data
// waits inside forward are "data wait" (an evaluation's are the evaluation's).
TraceProfile profile_trace(const std::string& path);
// The profile as the table `tide profile` prints.
std::string format_profile(const TraceProfile& profile);

}  // namespace tide
