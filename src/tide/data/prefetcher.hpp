// Prefetcher<T>: a producer thread that makes items ahead of their use, at most `capacity`
// waiting, and the consumer's side: the DataLoader's batches and the WindowStream's windows
// both come through one.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

#include "tide/core/trace.hpp"

namespace tide {

template <typename T>
class Prefetcher {
 public:
  Prefetcher() = default;
  ~Prefetcher() { stop(); }
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // Stops any running producer, empties the queue and starts `produce` on a new thread.
  // `produce` hands items to push() and ends when push() returns false; an exception it
  // throws is rethrown by the consumer's pop().
  void start(int capacity, std::function<void()> produce) {
    stop();
    capacity_ = capacity;
    ready_.clear();
    error_ = nullptr;
    stop_ = false;
    worker_ = std::thread([this, produce = std::move(produce)] {
      try {
        produce();
      } catch (...) {
        std::lock_guard lock(mutex_);
        error_ = std::current_exception();
        changed_.notify_all();
      }
    });
  }

  // Producer: waits for room; false once stop() was called (the item is dropped).
  bool push(T item) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return stop_ || static_cast<int>(ready_.size()) < capacity_; });
    if (stop_) return false;
    ready_.push_back(std::move(item));
    changed_.notify_all();
    return true;
  }

  // Producer: waits up to `seconds` (a backoff) unless stopped; true when stopped.
  bool wait_unless_stopped(double seconds) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::duration<double>(seconds), [&] { return stop_; });
  }
  bool stopped() const {
    std::lock_guard lock(mutex_);
    return stop_;
  }

  // Consumer: the next item, waiting for it. If the producer failed instead, stops it and
  // rethrows its exception.
  T pop() {
    std::unique_lock lock(mutex_);
    if (ready_.empty()) {  // the consumer waits for data: a span of the trace
      const TraceSpan span("data wait", "data");
      changed_.wait(lock, [&] { return !ready_.empty() || error_; });
    }
    if (ready_.empty()) {
      const std::exception_ptr e = error_;
      lock.unlock();
      stop();
      std::rethrow_exception(e);
    }
    T item = std::move(ready_.front());
    ready_.pop_front();
    changed_.notify_all();
    return item;
  }

  // Asks the producer to stop and waits for its thread.
  void stop() {
    if (!worker_.joinable()) return;
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
      changed_.notify_all();
    }
    worker_.join();
  }

 private:
  int capacity_ = 1;
  std::thread worker_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<T> ready_;
  std::exception_ptr error_;
  bool stop_ = false;
};

}  // namespace tide
