// main() of the tests that run under mpirun: every rank runs every test; only rank 0 prints
// GoogleTest's report, each rank's failures are printed by that rank, and the process exits
// non-zero on every rank when any rank failed.
#include <gtest/gtest.h>

#include "tide/distributed/communicator.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const tide::Communicator& world = tide::Communicator::world();
  if (world.rank() != 0) {
    ::testing::TestEventListeners& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  const int failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  tide::Tensor any = tide::Tensor::full({1}, failed, tide::DType::i64);
  world.allreduce(any, tide::ReduceOp::max, "the test results");
  if (failed) fprintf(stderr, "rank %d of %d: tests failed\n", world.rank(), world.size());
  tide::Communicator::finalize();
  return any.data<int64_t>()[0] != 0 ? 1 : 0;
}
