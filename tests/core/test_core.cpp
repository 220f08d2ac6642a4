// core: errors, shapes and broadcasting, the counter-based random streams, allocation.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tide/core/alloc.hpp"
#include "tide/core/error.hpp"
#include "tide/core/read_file.hpp"
#include "tide/core/rng.hpp"
#include "tide/core/shape.hpp"

namespace tide {
namespace {

using ::testing::HasSubstr;

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Error, CheckFormatsTheMessageAndKeepsTheLocation) {
  try {
    TIDE_CHECK(1 + 1 == 3, "expected {} but found {}", 3, 2);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "expected 3 but found 2");
    EXPECT_THAT(e.where(), HasSubstr("test_core.cpp:"));
  }
}

TEST(Shape, NumelAndNegativeDimensions) {
  const Shape s{2, 3, 4};
  EXPECT_EQ(s.numel(), 24);
  EXPECT_EQ(Shape{}.numel(), 1);
  EXPECT_EQ(s[-1], 4);
  EXPECT_EQ(s.normalize_dim(-3), 0);
  EXPECT_EQ(s.str(), "[2, 3, 4]");
  try {
    s.normalize_dim(3);
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("[2, 3, 4]"));
  }
}

TEST(Shape, NumelOverflowIsAnErrorNamingTheShape) {
  EXPECT_EQ((Shape{int64_t{1} << 31, int64_t{1} << 31}.numel()), int64_t{1} << 62);
  EXPECT_THAT(error_of([] {
                (void)Shape{int64_t{1} << 62, 4}.numel();
              }),
              HasSubstr("shape [4611686018427387904, 4] has more elements than a 64-bit count"));
  EXPECT_THAT(error_of([] {
                (void)Shape{3, int64_t{1} << 62, 2, 0}.numel();
              }),
              HasSubstr("more elements than a 64-bit count"));
}

TEST(ReadFile, RefusesWhatIsNotARegularFileOrTooLarge) {
  const std::string dir = ::testing::TempDir() + "tide_read_file";
  std::filesystem::create_directories(dir);
  EXPECT_THAT(error_of([&] { read_file_bytes(dir); }),
              HasSubstr(dir + ": is a directory; expected a regular file"));
  EXPECT_THAT(error_of([] { read_file_bytes("/dev/zero"); }),
              HasSubstr("/dev/zero: is a device; expected a regular file"));
  EXPECT_THAT(error_of([] { read_file_bytes("/nonexistent/x"); }),
              HasSubstr("/nonexistent/x: cannot open: No such file or directory"));
  const std::string file = dir + "/ten";
  std::ofstream(file) << "0123456789";
  EXPECT_EQ(read_file_bytes(file), "0123456789");
  EXPECT_EQ(read_file_bytes(file, 10), "0123456789");
  EXPECT_THAT(error_of([&] { read_file_bytes(file, 9, "a test file"); }),
              HasSubstr(file + ": 10 bytes, more than the 9 bytes a test file may hold"));
}

TEST(Shape, BroadcastingFollowsNumPy) {
  EXPECT_EQ(broadcast_shapes({4, 3, 5}, {3, 1}), Shape({4, 3, 5}));
  EXPECT_EQ(broadcast_shapes({}, {2, 2}), Shape({2, 2}));
  EXPECT_EQ(broadcast_shapes({1, 7}, {6, 1}), Shape({6, 7}));
  try {
    broadcast_shapes({2, 3}, {4, 3});
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("[2, 3] and [4, 3]"));
  }
}

TEST(Philox, KnownAnswersFromRandom123) {
  using A4 = std::array<uint32_t, 4>;
  EXPECT_EQ(philox4x32({0, 0, 0, 0}, {0, 0}), (A4{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(philox4x32({~0u, ~0u, ~0u, ~0u}, {~0u, ~0u}),
            (A4{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(philox4x32({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}),
            (A4{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

std::vector<uint32_t> draws(RngStream r, int n) {
  std::vector<uint32_t> v;
  for (int i = 0; i < n; ++i) v.push_back(r.next_u32());
  return v;
}

TEST(RngStream, StreamsAreNamedBySeedPurposeAndIds) {
  const auto base = draws(RngStream(1, RngPurpose::shuffle, {0, 3}), 16);
  EXPECT_EQ(base, draws(RngStream(1, RngPurpose::shuffle, {0, 3}), 16));
  EXPECT_NE(base, draws(RngStream(2, RngPurpose::shuffle, {0, 3}), 16));
  EXPECT_NE(base, draws(RngStream(1, RngPurpose::dropout, {0, 3}), 16));
  EXPECT_NE(base, draws(RngStream(1, RngPurpose::shuffle, {3, 0}), 16));
  EXPECT_NE(base, draws(RngStream(1, RngPurpose::shuffle, {0}), 16));
}

TEST(RngStream, DistributionsHaveTheirMoments) {
  RngStream r(9, RngPurpose::test);
  const int n = 200000;
  double su = 0, sn = 0, snn = 0;
  for (int i = 0; i < n; ++i) {
    const float u = r.uniform();
    ASSERT_TRUE(u >= 0.0f && u < 1.0f);
    su += u;
    const double z = r.normal();
    sn += z;
    snn += z * z;
  }
  EXPECT_NEAR(su / n, 0.5, 0.005);
  EXPECT_NEAR(sn / n, 0.0, 0.01);
  EXPECT_NEAR(std::sqrt(snn / n), 1.0, 0.01);
}

TEST(RngStream, BelowIsInRangeAndRoughlyUniform) {
  RngStream r(4, RngPurpose::test);
  std::vector<int> counts(7);
  for (int i = 0; i < 70000; ++i) {
    const uint64_t k = r.below(7);
    ASSERT_LT(k, 7u);
    ++counts[k];
  }
  for (int c : counts) EXPECT_NEAR(c, 10000, 400);
  EXPECT_EQ(r.below(1), 0u);
}

TEST(Alloc, AlignedWritableAndReusable) {
  for (size_t bytes : {size_t{0}, size_t{1}, size_t{100}, size_t{4096}, size_t{1} << 22}) {
    void* p = allocate_bytes(bytes);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kAlignment, 0u) << bytes;
    std::memset(p, 0xab, bytes);
    free_bytes(p, bytes);
    void* q = allocate_bytes(bytes);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(q) % kAlignment, 0u);
    free_bytes(q, bytes);
  }
}

}  // namespace
}  // namespace tide
