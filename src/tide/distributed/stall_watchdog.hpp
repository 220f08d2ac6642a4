// The stall watchdog: what a rank waits on in a collective (StallWatch, which every
// Communicator records its collectives in) and a thread that logs a wait past a timeout
// (StallWatchdog). Apart from communicator.hpp, so that the Communicator's users do not
// take in its thread and mutex.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "tide/distributed/communicator.hpp"

namespace tide {

// What a rank is waiting on in a collective, for the stall watchdog to report.
class StallWatch {
 public:
  void begin(std::string what);
  void end();
  // The current wait and how long it has lasted; empty when not waiting.
  std::pair<std::string, double> current() const;
  // Collectives begun so far.
  int64_t count() const;

 private:
  mutable std::mutex mutex_;
  int64_t count_ = 0;
  std::string what_;
  std::chrono::steady_clock::time_point since_;
  bool waiting_ = false;
};

// A thread that logs, once per wait, when this rank has waited longer than `timeout_s` in a
// collective of `comm`, naming what it waits on (step and bucket for the Reducer).
class StallWatchdog {
 public:
  StallWatchdog(const Communicator& comm, double timeout_s);
  ~StallWatchdog();
  StallWatchdog(const StallWatchdog&) = delete;
  StallWatchdog& operator=(const StallWatchdog&) = delete;

 private:
  std::shared_ptr<StallWatch> watch_;
  int rank_;
  double timeout_s_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace tide
