// Faults of the machine, not of the input: memory that runs out is one clear line and exit
// status 1, wherever the allocation fails, never "internal error" or a signal. The failures
// are injected into a real `tide` process by an allocator that refuses large requests
// (tests/support/fail_alloc.cpp, through LD_PRELOAD).
#include <filesystem>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

testing::CommandResult run_short_of_memory(size_t above, const std::string& args) {
  // A directory of the test's own: ctest runs two of these tests at once.
  const fs::path dir =
      fs::temp_directory_path() /
      ("tide_faults_" +
       std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
  fs::remove_all(dir);
  return testing::run_command(
      fmt::format("LD_PRELOAD={} TIDE_FAIL_ALLOC_ABOVE={} {}/tide train --max-steps 1 --threads 1 "
                  "--run-dir {} {}",
                  FAIL_ALLOC_LIBRARY, above, TIDE_BINARY_DIR, dir.string(), args));
}

void expect_out_of_memory(const testing::CommandResult& r, const std::string& what) {
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("tide: error: "));
  EXPECT_THAT(r.out, HasSubstr(what));
  EXPECT_THAT(r.out, Not(HasSubstr("internal error")));
}

// The injection works: with a limit above everything the run needs, it trains.
TEST(Faults, TheInjectedAllocatorLetsSmallerRequestsThrough) {
  const auto r = run_short_of_memory(size_t{1} << 30, "--model mlp");
  EXPECT_EQ(r.status, 0) << r.out;
}

// A container growing past the limit (the training images, 47 MB, as they are read):
// std::bad_alloc, caught as the last guard in main, is one clear line.
TEST(Faults, OutOfMemoryWhileReadingDataIsAClearError) {
  expect_out_of_memory(run_short_of_memory(8 << 20, "--model mlp"), "out of memory");
}

// A tensor that cannot be allocated (a 70000 x 784 weight, 220 MB; the images take 188 MB)
// names its shape.
TEST(Faults, OutOfMemoryForATensorNamesItsShape) {
  expect_out_of_memory(run_short_of_memory(200 << 20, "--model mlp --hidden 70000"),
                       "cannot create a f32 tensor of shape [70000, 784]: out of memory");
}

}  // namespace
}  // namespace tide
