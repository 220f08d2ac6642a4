#include "tide/core/trace.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>

namespace tide::trace {

namespace detail {
std::atomic<bool> g_recording{false};
}

namespace {

using Clock = std::chrono::steady_clock;

// One thread's events. It registers with the trace (an index, a place in the list) on its
// first event of a trace; a thread that ends hands its events over to the trace.
struct ThreadBuffer {
  std::mutex mutex;
  std::vector<TraceEvent> events;
  std::string name;
  uint64_t generation = 0;  // of the trace it registered with; 0: none
  int index = -1;
  ~ThreadBuffer();
};

// What any thread reads while spans are recorded is atomic; the lists are the mutex's.
struct State {
  std::mutex mutex;
  std::atomic<bool> started{false};
  std::atomic<int64_t> first{0}, last{-1}, max_events{0};
  std::atomic<uint64_t> generation{0};
  std::atomic<int64_t> origin_ns{0};  // of the steady clock
  std::vector<std::string> names;     // by thread index
  std::vector<ThreadBuffer*> live;    // registered with this trace
  std::vector<TraceEvent> retired;    // of threads that ended
  std::atomic<int64_t> step{0}, count{0}, dropped{0};
};

State& state() {
  static State* s = new State;  // never destroyed: threads may record while the process ends
  return *s;
}

ThreadBuffer::~ThreadBuffer() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (generation != s.generation) return;
  std::lock_guard own(mutex);
  s.retired.insert(s.retired.end(), events.begin(), events.end());
  s.live.erase(std::remove(s.live.begin(), s.live.end(), this), s.live.end());
}

thread_local ThreadBuffer t_buffer;

// This thread's buffer, registered with the current trace.
ThreadBuffer& registered() {
  State& s = state();
  ThreadBuffer& b = t_buffer;
  if (b.generation == s.generation.load()) return b;  // only this thread writes b.generation
  std::lock_guard lock(s.mutex);
  if (b.generation != s.generation) {
    std::lock_guard own(b.mutex);
    b.generation = s.generation;
    b.events.clear();
    b.index = static_cast<int>(s.names.size());
    s.names.push_back(b.name.empty() ? "thread " + std::to_string(b.index) : b.name);
    s.live.push_back(&b);
  }
  return b;
}

bool in_window(const State& s, int64_t step) {
  return s.started.load() && step >= s.first.load() && step <= s.last.load();
}

void update_recording(State& s) {
  detail::g_recording.store(in_window(s, s.step.load()));
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

}  // namespace

void start(int64_t first, int64_t last, int64_t max_events) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  ++s.generation;
  s.started = true;
  s.first = first;
  s.last = last;
  s.max_events = max_events;
  s.origin_ns = now_ns();
  s.step = 0;  // until the loop says which step it runs
  s.names.clear();
  s.live.clear();
  s.retired.clear();
  s.count = 0;
  s.dropped = 0;
  update_recording(s);
}

void stop() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.started = false;
  update_recording(s);
}

void set_step(int64_t step) {
  State& s = state();
  s.step.store(step);
  if (in_window(s, step) != detail::g_recording.load(std::memory_order_relaxed)) {
    std::lock_guard lock(s.mutex);
    update_recording(s);
  }
}

int64_t current_step() {
  return state().step.load();
}

void name_thread(const char* name) {
  ThreadBuffer& b = t_buffer;
  if (b.name.empty()) b.name = name;
}

double now_us() {
  return static_cast<double>(now_ns() - state().origin_ns.load()) / 1e3;
}

uint64_t generation() {
  return state().generation.load();
}

void record(const char* name, const char* category, int64_t step, double begin_us, double end_us,
            int64_t arg, int64_t bytes) {
  State& s = state();
  if (s.count.fetch_add(1) >= s.max_events.load()) {
    s.dropped.fetch_add(1);
    return;
  }
  ThreadBuffer& b = registered();
  std::lock_guard own(b.mutex);
  b.events.push_back(TraceEvent{.name = name,
                                .category = category,
                                .thread = b.index,
                                .step = step,
                                .begin_us = begin_us,
                                .end_us = end_us,
                                .arg = arg,
                                .bytes = bytes});
}

std::vector<TraceEvent> events() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  std::vector<TraceEvent> all = s.retired;
  for (ThreadBuffer* b : s.live) {
    std::lock_guard own(b->mutex);
    all.insert(all.end(), b->events.begin(), b->events.end());
  }
  std::stable_sort(all.begin(), all.end(), [](const TraceEvent& a, const TraceEvent& b) {
    return a.begin_us < b.begin_us;
  });
  return all;
}

std::vector<std::string> thread_names() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  return s.names;
}

int64_t dropped() {
  return state().dropped.load();
}

}  // namespace tide::trace
