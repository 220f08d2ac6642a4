#include "tide/session/trace_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tide/core/error.hpp"
#include "tide/core/trace.hpp"
#include "tide/distributed/gather.hpp"

namespace tide {
namespace {

using Json = nlohmann::ordered_json;

// One event on the wire: indices into the rank's names.
struct Packed {
  int32_t name, category, thread, pad;
  int64_t step;
  double begin_us, end_us;
  int64_t arg, bytes;
};

// `s` as a JSON string's contents.
std::string escaped(const std::string& s) {
  const std::string dumped = Json(s).dump();
  return dumped.substr(1, dumped.size() - 2);
}

// The first and the last line of a trace but its totals; an event on each line between.
constexpr const char* kHeader = R"({"displayTimeUnit":"ms","traceEvents":[)";
constexpr const char* kTrailer = R"(],"otherData":)";

// The loop's phases, in the order of a step, as the profile lists them.
constexpr const char* kPhases[] = {"data wait", "forward", "backward",   "reduce",
                                   "control",   "apply",   "checkpoint", "evaluation"};

}  // namespace

std::optional<TraceSteps> parse_trace_steps(const std::string& text) {
  if (text.empty()) return TraceSteps{};
  auto number = [](const std::string& part) -> std::optional<int64_t> {
    if (part.empty() || part.size() > 18 ||
        !std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    const int64_t v = std::stoll(part);
    return v >= 1 ? std::optional(v) : std::nullopt;
  };
  const size_t dash = text.find('-');
  const auto first = number(text.substr(0, dash));
  const auto last = dash == std::string::npos ? first : number(text.substr(dash + 1));
  if (!first || !last || *first > *last) return std::nullopt;
  return TraceSteps{.first = *first, .last = *last};
}

int64_t trace_event_limit(int ranks) {
  // 2 M events in all: about 300 MB gathered to rank 0 and 300 MB of JSON.
  return std::max<int64_t>(1000, 2'000'000 / std::max(1, ranks));
}

bool start_trace(const Communicator& comm, const std::string& path, const std::string& steps) {
  const bool mine = !path.empty();
  if (comm.size() > 1) {
    // A collective on every rank, traced or not: a rank that traced alone would wait in the
    // trace's barrier and gather while the others went on to their allreduces.
    // And on the window, so that the profile compares the same steps.
    const std::vector<std::string> all =
        comm.allgather(mine ? "1" + steps : "", "the agreement on --trace");
    for (size_t r = 1; r < all.size(); ++r) {
      TIDE_CHECK(all[r].empty() == all[0].empty(),
                 "--trace is given to rank {} but not to rank {}: give it to all",
                 all[0].empty() ? r : 0, all[0].empty() ? 0 : r);
      TIDE_CHECK(all[r] == all[0],
                 "--trace-steps: rank 0 traces '{}', rank {} '{}': give all the same",
                 all[0].substr(1), r, all[r].substr(1));
    }
  }
  if (!mine) return false;
  const std::optional<TraceSteps> window = parse_trace_steps(steps);
  TIDE_CHECK(window.has_value(), "--trace-steps '{}': expected A-B (steps from 1, A <= B) or A",
             steps);
  // Rank 0 writes the file: it says now, to every rank, whether it can.
  std::string problem;
  if (comm.rank() == 0) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr)
      problem = fmt::format("--trace {}: cannot create: {}", path, std::strerror(errno));
    else
      std::fclose(f);
  }
  const std::vector<std::string> problems = comm.allgather(problem, "the check of --trace");
  TIDE_CHECK(problems[0].empty(), "{}", problems[0]);
  comm.barrier("the start of the trace");  // the ranks' clocks start together
  trace::start(window->first, window->last, trace_event_limit(comm.size()));
  return true;
}

TraceWritten write_trace(const Communicator& comm, const std::string& path) {
  trace::stop();
  const std::vector<TraceEvent> events = trace::events();
  std::vector<std::string> names;
  std::map<std::string, int32_t> index;
  auto name_index = [&](const char* n) {
    const auto [it, added] = index.emplace(n, static_cast<int32_t>(names.size()));
    if (added) names.emplace_back(n);
    return it->second;
  };
  std::vector<Packed> packed;
  packed.reserve(events.size());
  for (const TraceEvent& e : events)
    packed.push_back(Packed{.name = name_index(e.name),
                            .category = name_index(e.category),
                            .thread = e.thread,
                            .pad = 0,
                            .step = e.step,
                            .begin_us = e.begin_us,
                            .end_us = e.end_us,
                            .arg = e.arg,
                            .bytes = e.bytes});
  const Json mine{{"names", names},
                  {"threads", trace::thread_names()},
                  {"dropped", trace::dropped()},
                  {"events", json_bytes(packed)}};
  const std::vector<uint8_t> cbor = Json::to_cbor(mine);
  const std::vector<std::string> parts =
      comm.gather(std::string(cbor.begin(), cbor.end()), 0, "the trace's events");
  TraceWritten w;
  if (comm.rank() != 0) return w;

  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "w"),
                                                          &std::fclose);
  TIDE_CHECK(f != nullptr, "--trace {}: cannot create: {}", path, std::strerror(errno));
  std::string out = std::string(kHeader) + "\n";
  bool first = true;
  auto flush = [&] {
    TIDE_CHECK(std::fwrite(out.data(), 1, out.size(), f.get()) == out.size(),
               "--trace {}: write failed: {}", path, std::strerror(errno));
    out.clear();
  };
  auto line = [&](const std::string& l) {
    if (!first) out += ",\n";
    first = false;
    out += l;
    if (out.size() > (1 << 20)) flush();
  };
  for (size_t r = 0; r < parts.size(); ++r) {
    const Json part = Json::from_cbor(parts[r]);
    const auto rank_names = part.at("names").get<std::vector<std::string>>();
    const auto threads = part.at("threads").get<std::vector<std::string>>();
    w.dropped += part.at("dropped").get<int64_t>();
    line(fmt::format(
        R"({{"ph":"M","name":"process_name","pid":{},"tid":0,"args":{{"name":"rank {}"}}}})", r,
        r));
    line(fmt::format(
        R"({{"ph":"M","name":"process_sort_index","pid":{},"tid":0,"args":{{"sort_index":{}}}}})",
        r, r));
    for (size_t t = 0; t < threads.size(); ++t)
      line(fmt::format(
          R"({{"ph":"M","name":"thread_name","pid":{},"tid":{},"args":{{"name":"{}"}}}})", r, t,
          escaped(threads[t])));
    for (const Packed& e : from_json_bytes<Packed>(part.at("events"), "the trace's events")) {
      std::string args = fmt::format(R"("step":{})", e.step);
      if (e.arg >= 0) args += fmt::format(R"(,"bucket":{})", e.arg);
      if (e.bytes >= 0) args += fmt::format(R"(,"bytes":{})", e.bytes);
      line(fmt::format(
          R"({{"ph":"X","name":"{}","cat":"{}","pid":{},"tid":{},"ts":{:.3f},"dur":{:.3f},"args":{{{}}}}})",
          escaped(rank_names.at(static_cast<size_t>(e.name))),
          escaped(rank_names.at(static_cast<size_t>(e.category))), r, e.thread, e.begin_us,
          e.end_us - e.begin_us, args));
      ++w.events;
    }
  }
  out += fmt::format("\n{}{{\"ranks\":{},\"dropped\":{}}}}}\n", kTrailer, parts.size(), w.dropped);
  flush();
  TIDE_CHECK(std::fflush(f.get()) == 0 && !std::ferror(f.get()), "--trace {}: write failed: {}",
             path, std::strerror(errno));
  return w;
}

namespace {

struct Span {
  double begin, end;
};

double overlap(const Span& a, const Span& b) {
  return std::max(0.0, std::min(a.end, b.end) - std::max(a.begin, b.begin));
}

double overlap(const std::vector<Span>& a, const std::vector<Span>& b) {
  double total = 0;
  for (const Span& x : a)
    for (const Span& y : b) total += overlap(x, y);
  return total;
}

// One step of one rank, as the trace has it.
struct StepSpans {
  std::optional<Span> step;
  std::map<std::string, std::vector<Span>> loop;  // the loop thread's phases
  std::vector<Span> allreduce;                    // on either thread
};

}  // namespace

TraceProfile profile_trace(const std::string& path) {
  // Read a line at a time (write_trace puts one event on each), so that a trace of any size
  // takes memory for its spans only.
  std::ifstream in(path);
  TIDE_CHECK(in.good(), "{}: cannot open: {}", path, std::strerror(errno));
  TIDE_CHECK(!std::filesystem::is_directory(path), "{}: a directory, not a trace", path);
  std::string text;
  std::getline(in, text);
  TIDE_CHECK(text == kHeader, "{}: not a trace written by --trace (its first line should be {})",
             path, kHeader);
  std::map<std::pair<int, int>, std::string> threads;  // (pid, tid) -> name
  std::map<int, std::map<int64_t, StepSpans>> ranks;   // pid -> step -> spans
  TraceProfile p;
  bool ended = false;
  for (int64_t number = 2; std::getline(in, text); ++number) {
    if (!text.empty() && text.back() == ',') text.pop_back();
    if (text.empty()) continue;
    try {
      if (text.rfind(kTrailer, 0) == 0) {           // the end: the totals
        const size_t from = std::strlen(kTrailer);  // then {...} and the document's }
        TIDE_CHECK(text.size() > from + 1 && text.back() == '}', "not the end of a trace");
        const Json tail = Json::parse(text.substr(from, text.size() - from - 1));
        p.dropped = tail.at("dropped").get<int64_t>();
        ended = true;
        continue;
      }
      const Json e = Json::parse(text);
      const std::string ph = e.at("ph").get<std::string>();
      const int pid = e.at("pid").get<int>(), tid = e.at("tid").get<int>();
      if (ph == "M") {
        if (e.at("name") == "thread_name")
          threads[{pid, tid}] = e.at("args").at("name").get<std::string>();
        continue;
      }
      if (ph != "X") continue;
      const std::string name = e.at("name").get<std::string>();
      const int64_t step = e.at("args").at("step").get<int64_t>();
      const double ts = e.at("ts").get<double>(), dur = e.at("dur").get<double>();
      TIDE_CHECK(dur >= 0 && std::isfinite(ts) && std::isfinite(dur), "a span of {} us at {} us",
                 dur, ts);
      StepSpans& s = ranks[pid][step];
      const Span span{ts, ts + dur};
      if (name == "step")
        s.step = span;
      else if (name == "allreduce")
        s.allreduce.push_back(span);
      else if (threads[{pid, tid}] == "loop")
        s.loop[name].push_back(span);
    } catch (const std::exception& x) {
      TIDE_FAIL("{}: line {}: {}", path, number, x.what());
    }
  }
  TIDE_CHECK(ended, "{}: cut short: the trace has no end (was its run stopped while writing?)",
             path);
  TIDE_CHECK(!ranks.empty(), "{}: no spans: were the steps of --trace-steps run?", path);
  p.ranks = static_cast<int>(ranks.size());
  std::map<std::string, double> phase_us;
  double step_us = 0, allreduce_us = 0, hidden_us = 0;
  int64_t steps = 0;
  for (const auto& [pid, by_step] : ranks) {
    double rank_us = 0;
    int64_t rank_steps = 0;
    for (const auto& [step, s] : by_step) {
      if (!s.step) continue;  // not a whole step of the window
      ++rank_steps;
      rank_us += s.step->end - s.step->begin;
      // A phase counts within its step's span (the clock is printed to the nanosecond).
      auto inside = [&](const std::vector<Span>& spans) {
        std::vector<Span> in_step;
        for (const Span& x : spans)
          if (x.begin >= s.step->begin - 1e-3 && x.end <= s.step->end + 1e-3) in_step.push_back(x);
        return in_step;
      };
      auto spans_of = [&](const std::string& name) {
        const auto it = s.loop.find(name);
        return it == s.loop.end() ? std::vector<Span>{} : inside(it->second);
      };
      // The batch is read inside forward: the waits there are data wait, the rest forward.
      const std::vector<Span> forward = spans_of("forward");
      const double waits = overlap(spans_of("data wait"), forward);
      for (const std::string_view phase : kPhases) {
        double us = 0;
        if (phase == "data wait") {
          us = waits;  // those of evaluations are the evaluation's
        } else {
          for (const Span& x : spans_of(std::string(phase))) us += x.end - x.begin;
          if (phase == "forward") us -= waits;
        }
        phase_us[std::string(phase)] += us;
      }
      for (const Span& a : s.allreduce) allreduce_us += a.end - a.begin;
      hidden_us += overlap(s.allreduce, spans_of("backward"));
    }
    TIDE_CHECK(rank_steps > 0, "{}: rank {} has no whole step", path, pid);
    p.rank_step_ms.push_back(rank_us / 1e3 / static_cast<double>(rank_steps));
    step_us += rank_us;
    steps += rank_steps;
  }
  p.steps = steps / p.ranks;
  const double per_step = 1e3 * static_cast<double>(steps);  // us -> ms per step
  p.step_ms = step_us / per_step;
  // The rest of the step: the hooks other than checkpoints and evaluations, the loop itself.
  double other = step_us;
  for (const char* phase : kPhases) {
    const double us = std::max(0.0, phase_us[phase]);
    other -= us;
    p.phases.push_back({phase, us / per_step, step_us > 0 ? us / step_us : 0});
  }
  other = std::max(0.0, other);  // rounding of the printed clock
  p.phases.push_back({"other", other / per_step, step_us > 0 ? other / step_us : 0});
  p.allreduce_ms = allreduce_us / per_step;
  p.hidden_share = allreduce_us > 0 ? hidden_us / allreduce_us : 0;
  return p;
}

std::string format_profile(const TraceProfile& p) {
  std::string out =
      fmt::format("{} step{} on {} rank{}: {:.3f} ms per step", p.steps, p.steps == 1 ? "" : "s",
                  p.ranks, p.ranks == 1 ? "" : "s", p.step_ms);
  if (p.ranks > 1) {
    const auto [lo, hi] = std::minmax_element(p.rank_step_ms.begin(), p.rank_step_ms.end());
    out += fmt::format(" (ranks {:.3f} to {:.3f})", *lo, *hi);
  }
  out += "\n\n| phase | ms per step | share of the step |\n|:---|---:|---:|\n";
  for (const PhaseShare& s : p.phases)
    out += fmt::format("| {} | {:.3f} | {:.1f} % |\n", s.phase, s.ms_per_step, 100 * s.share);
  out += fmt::format("\nallreduce: {:.3f} ms per step, {:.1f} % of it hidden under backward\n",
                     p.allreduce_ms, 100 * p.hidden_share);
  if (p.dropped > 0)
    out += fmt::format("(the trace dropped {} events past its limit)\n", p.dropped);
  return out;
}

}  // namespace tide
