// The timeline of a run: spans of named phases (forward, a bucket's allreduce, a checkpoint)
// on each thread, kept in memory while a trace records and written by the session as Chrome
// trace events (session/trace_file). Off unless a run asks for it: a TraceSpan then costs
// one relaxed atomic load and a branch.
//
// The loop tells the trace which step it is on (trace::set_step); a span belongs to the step
// that was current when it began, and is kept when that step lies in the window
// trace::start was given. Any thread may record; each keeps its own buffer, named by the
// first trace::name_thread it calls.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace tide {

struct TraceEvent {
  const char* name;         // static storage: a phase's name
  const char* category;     // "step", "compute", "communication", "data", "io", "eval"
  int thread;               // index into trace::thread_names()
  int64_t step;             // the step current when the span began
  double begin_us, end_us;  // since trace::start
  int64_t arg = -1;         // a bucket's index, when it has one
  int64_t bytes = -1;       // the bytes it moved, when it moved any
};

namespace trace {

namespace detail {
extern std::atomic<bool> g_recording;
}

// Starts recording spans of steps first..last (inclusive; the loop's step numbers, from
// 1); the clock's origin is now. Drops what an earlier trace recorded. At most `max_events`
// are kept; later ones are counted in dropped().
void start(int64_t first, int64_t last, int64_t max_events = 2'000'000);
// Stops recording; what was recorded stays until the next start.
void stop();
// The loop's step: spans that begin from here on belong to it.
void set_step(int64_t step);
int64_t current_step();
// True while a trace is started and the current step is in its window.
inline bool recording() {
  return detail::g_recording.load(std::memory_order_relaxed);
}

// This thread's name in the trace ("loop", "reducer"); the first call counts.
void name_thread(const char* name);
// Microseconds since start.
double now_us();
// Counts the traces started; a span begun in one is not recorded in the next.
uint64_t generation();
// Records a span of `step` from `begin_us` to `end_us` on this thread.
void record(const char* name, const char* category, int64_t step, double begin_us, double end_us,
            int64_t arg = -1, int64_t bytes = -1);

// Every thread's events, by begin time, and the threads' names. Call once no thread
// records (after stop()).
std::vector<TraceEvent> events();
std::vector<std::string> thread_names();
int64_t dropped();

}  // namespace trace

// A span from construction to destruction, recorded when the trace is recording at its
// start. `name` and `category` must outlive the trace (string literals).
class TraceSpan {
 public:
  explicit TraceSpan(const char* name, const char* category = "compute", int64_t arg = -1,
                     int64_t bytes = -1)
      : name_(name), category_(category), arg_(arg), bytes_(bytes) {
    if (trace::recording()) {
      step_ = trace::current_step();
      generation_ = trace::generation();
      begin_ = trace::now_us();
    }
  }
  ~TraceSpan() { end(); }
  // Ends the span here rather than at the end of the scope.
  void end() {
    if (begin_ >= 0 && generation_ == trace::generation())
      trace::record(name_, category_, step_, begin_, trace::now_us(), arg_, bytes_);
    begin_ = -1;
  }
  TraceSpan(const TraceSpan&) = delete;
  TraceSpan& operator=(const TraceSpan&) = delete;

 private:
  const char* name_;
  const char* category_;
  int64_t arg_, bytes_;
  int64_t step_ = 0;
  uint64_t generation_ = 0;
  double begin_ = -1;
};

}  // namespace tide
