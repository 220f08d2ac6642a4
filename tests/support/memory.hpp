// The process's peak resident memory, for tests that a reader allocates only what a file
// holds, not what it declares.
#pragma once

#include <sys/resource.h>

#include <cstdint>

namespace tide::testing {

// The peak resident set size of the process so far, in bytes (getrusage's ru_maxrss).
// Under AddressSanitizer it includes the shadow memory and the quarantine of freed blocks.
inline int64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

}  // namespace tide::testing
