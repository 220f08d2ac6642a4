// The cost of one TraceSpan (core/trace.hpp) with the trace off and recording: the median
// of 5 rounds of 2 M spans each. `tide_trace_bench` prints both in ns.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "tide/core/trace.hpp"

namespace {

double ns_per_span(int n) {
  std::vector<double> rounds;
  for (int r = 0; r < 5; ++r) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      const tide::TraceSpan span("forward");
    }
    rounds.push_back(
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() /
        n);
  }
  std::sort(rounds.begin(), rounds.end());
  return rounds[2];
}

}  // namespace

int main() {
  constexpr int kSpans = 2'000'000;
  const double off = ns_per_span(kSpans);
  tide::trace::start(1, 1, 6 * int64_t{kSpans});
  tide::trace::set_step(1);
  const double on = ns_per_span(kSpans);
  tide::trace::stop();
  std::printf("TraceSpan: %.2f ns with the trace off, %.1f ns recording (%zu spans kept)\n", off,
              on, tide::trace::events().size());
  return 0;
}
