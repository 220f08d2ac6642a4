// Thread configuration for every kernel. oneDNN and our loops share one OpenMP runtime.
#pragma once

#include <cstdint>
#include <functional>

namespace tide {

// Sets the number of threads kernels use; n <= 0 means one per available core.
void set_num_threads(int n);
int num_threads();
// The processors this process may run on (its CPU set, as bound by a launcher).
int num_procs();
// Runs `fn` once on each thread that kernels run on: this one and OpenMP's (at least as many
// as there are processors; none dynamic). Threads OpenMP starts later are started by this
// one and inherit what `fn` set on it, such as its signal mask. Returns the team's size.
int on_every_thread(const std::function<void()>& fn);

// Loops shorter than this run on one thread: below it, waking the team costs more than the
// work (a few microseconds against ~1 ns per element).
inline constexpr int64_t kParallelGrain = 1 << 15;

}  // namespace tide
