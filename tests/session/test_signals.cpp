// Termination signals arriving while oneDNN multiplies. oneDNN 2.6's generated f32 GEMM
// kernels point the stack pointer at a heap buffer while they run (oneDNN issue 4845, fixed
// in 3.11); a signal handled on a thread inside one has its frame written into the heap,
// over a tensor or malloc's bookkeeping. A SIGTERM that preempts a run must not do that: a
// storm of them during products leaves every product, every other buffer and the heap
// intact, and is seen at the next step boundary.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tide/kernels/gemm.hpp"
#include "tide/kernels/parallel.hpp"
#include "tide/session/hooks.hpp"
#include "tide/session/session.hpp"

namespace tide {
namespace {

std::vector<float> filled(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) {
    seed = seed * 1664525u + 1013904223u;
    v[i] = static_cast<float>(seed >> 8) / static_cast<float>(1 << 24) - 0.5f;
  }
  return v;
}

// One product of an MLP's training step: c (m, n) = op(a) op(b).
struct Product {
  bool trans_a, trans_b;
  int64_t m, n, k;
  std::vector<float> a, b, c;
  void run(std::vector<float>& out) const {
    gemm(out.data(), a.data(), b.data(), trans_a, trans_b, m, n, k, 1.0f, 0.0f);
  }
};

// The products of a step of the MLP of `tide train --model mlp` (784-1024-1024-10, batch
// 64): forward x W^T, the input's gradient dY W and the weight's dY^T x of each layer.
std::vector<Product> mlp_products() {
  const int64_t batch = 64, widths[] = {784, 1024, 1024, 10};
  std::vector<Product> out;
  uint32_t seed = 1;
  for (int l = 0; l < 3; ++l) {
    const int64_t in = widths[l], o = widths[l + 1];
    out.push_back({false, true, batch, o, in, filled(batch * in, seed++), filled(o * in, seed++)});
    out.push_back({false, false, batch, in, o, filled(batch * o, seed++), filled(o * in, seed++)});
    out.push_back(
        {true, false, o, in, batch, filled(batch * o, seed++), filled(batch * in, seed++)});
  }
  for (Product& p : out) {
    p.c.resize(static_cast<size_t>(p.m * p.n));
    p.run(p.c);
  }
  return out;
}

// In a process of its own (the death test's): exits 0 when every check held, else names
// the first that failed and exits 1; a corrupted heap aborts it.
[[noreturn]] void products_under_a_storm_of_signals(int threads) {
  set_num_threads(threads);
  const std::vector<Product> products = mlp_products();  // the compute threads start here
  // Blocks of the sizes training allocates, beside the products' buffers in the heap.
  std::vector<std::vector<float>> canaries;
  for (int i = 0; i < 200; ++i) canaries.push_back(filled(1024u << (i % 6), 100 + i));

  // A thread started before, with the signals open, as MPI's are: the handler may run there.
  std::atomic<bool> done{false};
  std::thread open_thread([&done] {
    while (!done.load()) usleep(100);
  });
  Session::catch_termination_signals();
  std::thread storm([&done] {
    while (!done.load()) {
      kill(getpid(), SIGTERM);
      usleep(20);
    }
  });
  const char* failed = nullptr;
  for (int i = 0; i < 40 && failed == nullptr; ++i)
    for (const Product& p : products) {
      std::vector<float> c(p.c.size());
      p.run(c);
      if (c != p.c) failed = "a product changed";
    }
  done = true;
  storm.join();
  open_thread.join();
  for (int i = 0; i < 200 && failed == nullptr; ++i)
    if (canaries[static_cast<size_t>(i)] != filled(1024u << (i % 6), 100 + i))
      failed = "a buffer beside the products changed";
  // The loop takes the signal at its first step boundary.
  Session loop(Communicator::solo(), TrainingState{}, 10, 1, [](int64_t, int64_t) {});
  loop.add_hook(std::make_shared<StopAtStepHook>(1000));
  loop.run([](Session&) { return StepResult{.loss = 1, .examples = 1}; });
  if (failed == nullptr && (loop.state().step != 0 || loop.stop_reason() != "SIGTERM received" ||
                            Session::termination_signal() != SIGTERM))
    failed = "the signals were not seen at the first step boundary";
  // malloc checks its bookkeeping as it splits and merges blocks.
  for (int i = 0; i < 2000; ++i) free(malloc(static_cast<size_t>(16 + (i * 97) % 70000)));
  std::fprintf(stderr, "%s\n", failed != nullptr ? failed : "intact");
  std::_Exit(failed != nullptr ? 1 : 0);
}

TEST(Signals, ASigtermStormDuringProductsLeavesEveryBufferIntactOnOneThread) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(products_under_a_storm_of_signals(1), testing::ExitedWithCode(0), "intact");
}

TEST(Signals, ASigtermStormDuringProductsLeavesEveryBufferIntactOnTwoThreads) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(products_under_a_storm_of_signals(2), testing::ExitedWithCode(0), "intact");
}

}  // namespace
}  // namespace tide
