// DataParallel on 1, 2 and 3 ranks: after the step's micro-batches and finish(), a parameter's
// gradient is the mean over the ranks and micro-batches of theirs, on every rank; calling it
// out of order is a clear error, not a hang.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"
#include "tide/autograd/ops.hpp"
#include "tide/distributed/data_parallel.hpp"

namespace tide {
namespace {

using ::testing::HasSubstr;

const Communicator& world() {
  return Communicator::world();
}

// The input of micro-batch k on rank r: the gradient of sum(w * x) is x.
Tensor input_of(int rank, int64_t micro) {
  return Tensor::from<float>({3}, {1.0f + rank, 2.0f * static_cast<float>(micro + 1), -0.5f});
}

TEST(DataParallel, GradientsAreTheMeanOverRanksAndMicroBatches) {
  const int ranks = world().size();
  for (const bool overlap : {true, false}) {
    Variable w(Tensor::zeros({3}), true);
    DataParallel parallel({w}, world(), 2, ReducerOptions{.overlap = overlap});
    EXPECT_EQ(parallel.reducer() != nullptr, ranks > 1);
    for (int64_t micro = 0; micro < 2; ++micro)
      parallel.backward(sum(mul(w, Variable(input_of(world().rank(), micro)))), 0);
    parallel.finish();
    std::vector<double> expected(3, 0.0);
    for (int r = 0; r < ranks; ++r)
      for (int64_t k = 0; k < 2; ++k) {
        const auto x = input_of(r, k).to_vector();
        for (size_t i = 0; i < 3; ++i) expected[i] += x[i] / (2.0 * ranks);
      }
    const auto g = w.grad().to_vector();
    for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(g[i], expected[i], 1e-6) << "element " << i;
  }
}

TEST(DataParallel, OutOfOrderCallsAreErrors) {
  Variable w(Tensor::zeros({3}), true);
  DataParallel parallel({w}, world(), 1);
  EXPECT_THAT(testing::error_of([&] { parallel.finish(); }), HasSubstr("finish() after 0 of"));
  parallel.backward(sum(mul(w, Variable(input_of(0, 0)))), 0);
  EXPECT_THAT(
      testing::error_of([&] { parallel.backward(sum(mul(w, Variable(input_of(0, 0)))), 0); }),
      HasSubstr("backward 2 of a step of 1"));
  parallel.finish();
  EXPECT_THAT(testing::error_of([] { DataParallel({}, world(), 0); }), HasSubstr("at least 1"));
}

}  // namespace
}  // namespace tide
