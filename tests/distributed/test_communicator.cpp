// Collectives (the bf16 allreduce of gradient compression too), teams and the stall
// watchdog on real ranks: ctest runs this under mpirun with 1, 2 and 3 ranks. Every test
// makes the same collectives on every rank, so a failure on one rank cannot leave another
// waiting.
#include <chrono>
#include <cmath>
#include <iterator>
#include <limits>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"
#include "tide/distributed/communicator.hpp"
#include "tide/distributed/replicate.hpp"
#include "tide/distributed/stall_watchdog.hpp"

namespace tide {
namespace {

using ::testing::HasSubstr;

const Communicator& world() {
  return Communicator::world();
}

// Sizes 0, 1, odd, and larger than a 25 MB gradient bucket (7 M floats = 28 MB).
const int64_t kSizes[] = {0, 1, 7, 1001, 7'000'001};

// Element i of rank r: small integers and halves, exact in f32 whatever the order of sums.
double value_of(int r, int64_t i) {
  return (r + 1) + 0.5 * static_cast<double>(i % 5);
}

template <class T>
void check_allreduce(DType dtype) {
  const int W = world().size(), r = world().rank();
  for (int64_t n : kSizes) {
    Tensor t = Tensor::empty({n}, dtype);
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i)
      p[i] = static_cast<T>(dtype == DType::i64 ? r + 1 + i % 5 : value_of(r, i));
    world().allreduce(t, ReduceOp::sum);
    int64_t bad = 0;
    for (int64_t i = 0; i < n; ++i) {
      double expected = 0;
      for (int q = 0; q < W; ++q) expected += dtype == DType::i64 ? q + 1 + i % 5 : value_of(q, i);
      bad += static_cast<double>(p[i]) != expected;
    }
    EXPECT_EQ(bad, 0) << "allreduce of " << n << " " << dtype_name(dtype) << " on " << W
                      << " ranks";
  }
}

TEST(Communicator, AllreduceSumsEverySizeAndType) {
  check_allreduce<float>(DType::f32);
  check_allreduce<double>(DType::f64);
  check_allreduce<int64_t>(DType::i64);
}

// bf16 rounding to nearest, ties to even, by arithmetic rather than by bits: bf16 keeps 8
// significant bits, so x is rounded to a multiple of 2^(e - 8) where x = m 2^e, |m| in [0.5, 1).
float bf16_rounding(float x) {
  if (x == 0) return x;
  int e = 0;
  std::frexp(x, &e);
  const double ulp = std::ldexp(1.0, e - 8);
  return static_cast<float>(std::nearbyint(static_cast<double>(x) / ulp) * ulp);
}

// Element i of rank r: most not representable in bf16, every seventh (1 + 2^-8) (r + 1): a
// tie, halfway between two bf16 values, where r + 1 is a power of two; signs mixed.
float bf16_input(int r, int64_t i) {
  if (i % 7 == 0) return static_cast<float>((r + 1) * (1 + std::ldexp(1.0, -8)));
  const float sign = i % 2 ? -1.0f : 1.0f;
  return sign * (static_cast<float>(r + 1) * 0.3137f + 0.001f * static_cast<float>(i % 101));
}

// Every rank ends with the f32 sum, in rank order, of the bf16 roundings of every rank's
// values, rounded to bf16: bit for bit, at every size; 2^24 + 1001 elements take two rounds
// of all-to-all and allgather.
TEST(Communicator, Bf16AllreduceIsTheRoundedSumOfRoundedValues) {
  const int W = world().size(), r = world().rank();
  std::vector<int64_t> sizes(std::begin(kSizes), std::end(kSizes));
  sizes.push_back((int64_t{1} << 24) + 1001);
  for (int64_t n : sizes) {
    std::vector<float> data(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) data[static_cast<size_t>(i)] = bf16_input(r, i);
    world().allreduce_bf16(data.data(), n, "bf16 test");
    int64_t bad = 0, far = 0;
    for (int64_t i = 0; i < n; ++i) {
      float sum = 0, exact = 0, magnitude = 0;
      for (int q = 0; q < W; ++q) {
        sum += bf16_rounding(bf16_input(q, i));
        exact += bf16_input(q, i);
        magnitude += std::abs(bf16_input(q, i));
      }
      const float got = data[static_cast<size_t>(i)];
      bad += got != bf16_rounding(sum);
      far += std::abs(got - exact) > std::ldexp(1.0f, -7) * magnitude;
    }
    EXPECT_EQ(bad, 0) << "bf16 allreduce of " << n << " on " << W << " ranks";
    EXPECT_EQ(far, 0) << "further from the f32 sum than two bf16 roundings";
  }
}

// Infinities, NaN and a sum that overflows f32 come out as an f32 allreduce would give them.
TEST(Communicator, Bf16AllreduceKeepsInfinitiesAndNan) {
  const int W = world().size(), r = world().rank();
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> v = {r == 0 ? inf : 1.0f, r == W - 1 ? std::nanf("") : 1.0f, -inf, 3e38f};
  world().allreduce_bf16(v.data(), static_cast<int64_t>(v.size()), "bf16 test");
  EXPECT_EQ(v[0], inf);
  EXPECT_TRUE(std::isnan(v[1]));
  EXPECT_EQ(v[2], -inf);
  if (W > 1)
    EXPECT_EQ(v[3], inf) << "two ranks of 3e38 overflow f32";
  else
    EXPECT_NEAR(v[3], 3e38f, 3e38f * 0.004f);
}

TEST(Communicator, AllreduceMaxAndMin) {
  const int W = world().size(), r = world().rank();
  Tensor t = Tensor::from<double>({3}, {double(r), -double(r), 5.0});
  Tensor u = t.clone();
  world().allreduce(t, ReduceOp::max);
  world().allreduce(u, ReduceOp::min);
  EXPECT_EQ(t.to_vector(), (std::vector<double>{double(W - 1), 0.0, 5.0}));
  EXPECT_EQ(u.to_vector(), (std::vector<double>{0.0, -double(W - 1), 5.0}));
}

TEST(Communicator, BroadcastFromEveryRootAndSize) {
  const int W = world().size(), r = world().rank();
  for (int root = 0; root < W; ++root)
    for (int64_t n : kSizes) {
      Tensor t = Tensor::empty({n}, DType::f32);
      float* p = t.data<float>();
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(value_of(r, i));
      world().broadcast(t, root);
      int64_t bad = 0;
      for (int64_t i = 0; i < n; ++i) bad += p[i] != static_cast<float>(value_of(root, i));
      EXPECT_EQ(bad, 0) << "broadcast of " << n << " from rank " << root;
    }
  Tensor t = Tensor::zeros({1});
  EXPECT_THAT(testing::error_of([&] { world().broadcast(t, W); }), HasSubstr("is not a rank"));
}

TEST(Communicator, AllgatherTensorsAndStrings) {
  const int W = world().size(), r = world().rank();
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{100'003}}) {
    Tensor t = Tensor::empty({n, 1}, DType::f64);
    for (int64_t i = 0; i < n; ++i) t.data<double>()[i] = value_of(r, i);
    const Tensor all = world().allgather(t);
    ASSERT_EQ(all.shape(), Shape({W, n, 1}));
    int64_t bad = 0;
    for (int q = 0; q < W; ++q)
      for (int64_t i = 0; i < n; ++i) bad += all.data<double>()[q * n + i] != value_of(q, i);
    EXPECT_EQ(bad, 0) << "allgather of " << n;
  }
  // Strings of different lengths, one of them empty.
  const std::vector<std::string> got =
      world().allgather(std::string(static_cast<size_t>(r) * 3, 'a' + static_cast<char>(r)));
  ASSERT_EQ(got.size(), static_cast<size_t>(W));
  for (int q = 0; q < W; ++q)
    EXPECT_EQ(got[static_cast<size_t>(q)],
              std::string(static_cast<size_t>(q) * 3, 'a' + static_cast<char>(q)));
}

TEST(Communicator, GatherBringsEveryRanksStringToTheRootAlone) {
  const int W = world().size(), r = world().rank();
  for (int root = 0; root < W; ++root) {
    const std::vector<std::string> got =
        world().gather(std::string(static_cast<size_t>(r) * 5, 'a' + static_cast<char>(r)), root);
    if (r != root) {
      EXPECT_TRUE(got.empty());
      continue;
    }
    ASSERT_EQ(got.size(), static_cast<size_t>(W));
    for (int q = 0; q < W; ++q)
      EXPECT_EQ(got[static_cast<size_t>(q)],
                std::string(static_cast<size_t>(q) * 5, 'a' + static_cast<char>(q)));
  }
}

TEST(Communicator, TeamsAreConsecutiveGroupsOfNearlyEqualSize) {
  const int W = world().size(), r = world().rank();
  for (int k = 1; k <= W; ++k) {
    const Team team = split_into_teams(world(), k);
    EXPECT_EQ(team.index, r * k / W);
    int expected_size = 0;
    for (int q = 0; q < W; ++q) expected_size += q * k / W == team.index;
    EXPECT_EQ(team.comm.size(), expected_size);
    // A sum inside the team sees only the team's ranks.
    Tensor t = Tensor::full({1}, r, DType::i64);
    team.comm.allreduce(t);
    int64_t expected = 0;
    for (int q = 0; q < W; ++q)
      if (q * k / W == team.index) expected += q;
    EXPECT_EQ(t.data<int64_t>()[0], expected) << k << " teams";
  }
  EXPECT_THAT(testing::error_of([&] { split_into_teams(world(), W + 1); }), HasSubstr("--teams"));
}

TEST(Communicator, ReplicateCopiesRankZerosParametersAndChecksThem) {
  const int r = world().rank();
  Variable a(Tensor::full({3, 5}, 10.0 + r), true), b(Tensor::full({7}, -1.0 * r), true);
  const NamedParameters params{{"a", a}, {"b", b}};
  const uint64_t sum =
      replicate_parameters(params, describe_parameters(params) + "model x\n", world());
  EXPECT_EQ(a.value().to_vector(), std::vector<double>(15, 10.0));
  EXPECT_EQ(b.value().to_vector(), std::vector<double>(7, 0.0));
  EXPECT_EQ(sum, parameters_checksum(params));
}

TEST(Communicator, ReplicateNamesTheRanksWithAnotherModel) {
  const int W = world().size(), r = world().rank();
  if (W == 1) GTEST_SKIP() << "needs two ranks";
  Variable a(Tensor::zeros({r == W - 1 ? 4 : 3}), true);
  const NamedParameters params{{"layer.weight", a}};
  const std::string message = testing::error_of(
      [&] { replicate_parameters(params, describe_parameters(params), world()); });
  EXPECT_THAT(message,
              HasSubstr(fmt::format("rank {} of {} started with a different model", W - 1, W)));
  EXPECT_THAT(message, HasSubstr("layer.weight f32[3]"));
  EXPECT_THAT(message, HasSubstr("layer.weight f32[4]"));
}

TEST(Communicator, WatchdogNamesWhatARankWaitsOn) {
  const int W = world().size(), r = world().rank();
  if (W == 1) GTEST_SKIP() << "needs two ranks";
  Tensor t = Tensor::zeros({4});
  if (r == 0) {
    ::testing::internal::CaptureStderr();
    {
      StallWatchdog dog(world(), 0.2);
      world().allreduce(t, ReduceOp::sum, "the gradient allreduce of step 7, bucket 2 of 3");
    }
    const std::string log = ::testing::internal::GetCapturedStderr();
    EXPECT_THAT(log, HasSubstr("stalled: rank 0 has waited"));
    EXPECT_THAT(log, HasSubstr("step 7, bucket 2 of 3"));
  } else {
    std::this_thread::sleep_for(std::chrono::milliseconds(800));  // a slow rank
    world().allreduce(t, ReduceOp::sum, "the gradient allreduce of step 7, bucket 2 of 3");
  }
}

}  // namespace
}  // namespace tide
