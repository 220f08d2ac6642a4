// The progress line: step, loss, throughput and time left.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>

namespace tide {

class Progress {
 public:
  // total_steps: the steps this run will take (for the ETA). On a terminal the line is
  // redrawn in place a few times a second; otherwise a line is printed every `every` steps.
  // A null `out` prints nothing (the ranks other than 0). A resumed run starts at
  // `first_step`, which the time left is estimated from.
  Progress(std::FILE* out, int64_t total_steps, int64_t every, int64_t first_step = 0);
  void update(int64_t step, int64_t epoch, double loss, double samples_per_sec);
  // Ends the in-place line before other output.
  void finish_line();

 private:
  std::FILE* out_;
  int64_t total_steps_, first_step_, every_;
  bool tty_;
  bool dirty_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace tide
