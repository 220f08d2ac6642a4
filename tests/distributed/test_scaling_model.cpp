// The scaling model's parts against figures worked by hand: the allreduce cost of each
// algorithm and node count, the Reducer's buckets replayed with and without overlap, the
// fit of steps against batch, the point of diminishing returns, the measured table's
// interpolation, and the description files (the shipped ones, and bad ones named).
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tide/core/error.hpp"
#include "tide/distributed/reducer.hpp"
#include "tide/distributed/scaling_model.hpp"

namespace tide {
namespace {

using ::testing::HasSubstr;

Network net(double latency_us, double gbs) {
  return Network{.name = "n", .latency_s = latency_us * 1e-6, .bandwidth_bytes_per_s = gbs * 1e9};
}

TEST(ScalingModel, AllreduceIsTheFasterAlgorithmAndFoldsACountThatIsNotAPowerOfTwo) {
  const Network n = net(1, 1);  // 1 us, 1 GB/s: a byte costs 1 ns
  EXPECT_EQ(allreduce_seconds(n, 1e6, 1), 0);
  // 8 nodes, 8 bytes: recursive doubling, 3 x (1 us + 8 ns).
  EXPECT_NEAR(allreduce_seconds(n, 8, 8), 3 * (1e-6 + 8e-9), 1e-15);
  // 8 nodes, 8 MB: Rabenseifner, 6 us + 2 x 7/8 x 8 ms = 14.006 ms (doubling: 24 ms).
  EXPECT_NEAR(allreduce_seconds(n, 8e6, 8), 6e-6 + 14e-3, 1e-12);
  // 6 nodes fold 2 in and out (2 x (1 us + 8 ms)), then 4 nodes: 4 us + 2 x 3/4 x 8 ms.
  EXPECT_NEAR(allreduce_seconds(n, 8e6, 6), 2 * (1e-6 + 8e-3) + 4e-6 + 12e-3, 1e-12);
  // The control collective: 40 bytes from each of 4 nodes, 2 rounds.
  EXPECT_NEAR(allgather_seconds(n, 40, 4), 2e-6 + 3 * 40e-9, 1e-15);
}

TEST(ScalingModel, BucketsAreReplayedAsTheReducerRunsThem) {
  // Parameters of 100, 200 and 700 f32 elements; buckets capped at 2000 bytes, the first
  // (with overlap) at 1000: [700 elements = 2800 B alone], then [200, 100].
  const ReducerOptions o{.bucket_bytes = 2000, .first_bucket_bytes = 1000, .overlap = true};
  const StepCompute s = step_compute(1.0, 2.0, 0.5, 0.25, {100, 200, 700}, 4, o);
  ASSERT_EQ(s.bucket_bytes, (std::vector<int64_t>{2800, 1200}));
  EXPECT_DOUBLE_EQ(s.ready_at[0], 0.7);
  EXPECT_DOUBLE_EQ(s.ready_at[1], 1.0);
  // Each bucket's allreduce takes 1 ms per 1000 bytes: 2.8 and 1.2 s.
  auto ar = [](double bytes) { return bytes / 1000; };
  // Overlap: bucket 0 ready at 1 + 0.7 x 2 = 2.4 s, done at 5.2; bucket 1 at 6.4. Backward
  // ended at 3: 3.4 s exposed.
  const StepPrediction p = predict_step(s, ar, 0.1);
  EXPECT_NEAR(p.exposed, 3.4, 1e-12);
  EXPECT_NEAR(p.allreduce, 4.0, 1e-12);
  EXPECT_NEAR(p.step, 3.75 + 3.4 + 0.1, 1e-12);
  // Without overlap all 4 s come after backward (and the first bucket is not small).
  const StepCompute flat = step_compute(1.0, 2.0, 0.5, 0.25, {100, 200, 700}, 4,
                                        {.bucket_bytes = 2000, .overlap = false});
  EXPECT_NEAR(predict_step(flat, ar, 0.1).exposed, 4.0, 1e-12);
  // Allreduces short enough hide behind backward entirely.
  EXPECT_NEAR(predict_step(
                  s, [](double) { return 0.1; }, 0)
                  .exposed,
              0.1, 1e-12);
  // One rank: no allreduce, no control collective.
  EXPECT_NEAR(predict_step(s, nullptr, 0).step, 3.75, 1e-12);
  // The layout is the Reducer's own.
  EXPECT_EQ(bucket_layout({100, 200, 700}, 4, o).size(), 2u);
}

TEST(ScalingModel, TheFitRecoversStepsAgainstBatchAndItsNoiseScale) {
  const StepsToTarget truth{.s_min = 250, .b_noise = 40};
  std::vector<std::pair<double, double>> points;
  for (const double b : {16.0, 32.0, 64.0, 128.0, 256.0}) points.emplace_back(b, truth.at(b));
  const StepsToTarget fit = fit_steps_to_target(points);
  EXPECT_NEAR(fit.s_min, 250, 1e-6);
  EXPECT_NEAR(fit.b_noise, 40, 1e-6);
  // More steps at larger batches (noise): no batch effect, the mean.
  const StepsToTarget flat = fit_steps_to_target({{16, 300}, {64, 320}});
  EXPECT_NEAR(flat.b_noise, 0, 1e-12);
  EXPECT_NEAR(flat.s_min, 310, 1e-9);
  EXPECT_THROW(fit_steps_to_target({{16, 300}}), Error);
  EXPECT_THROW(fit_steps_to_target({{16, 300}, {16, 310}}), Error);
}

TEST(ScalingModel, DiminishingReturnsIsWhereDoublingGainsLessThanTenPercent) {
  const std::vector<int> nodes{1, 2, 4, 8, 16};
  EXPECT_EQ(diminishing_returns(nodes, {10, 6, 4, 3.7, 3.6}), 4);  // 4 -> 8 gains 7.5 %
  EXPECT_EQ(diminishing_returns(nodes, {10, 5, 2.5, 1.25, 0.6}), 16);
  EXPECT_EQ(diminishing_returns(nodes, {10, 11, 12, 13, 14}), 1);
}

TEST(ScalingModel, AMeasuredTableIsInterpolatedInLogLog) {
  const MeasuredCollective m{.ranks = 2, .points = {{4, 1e-6}, {4096, 1e-5}, {4194304, 1e-3}}};
  EXPECT_DOUBLE_EQ(m.seconds(1), 1e-6);                        // below the smallest: the latency
  EXPECT_NEAR(m.seconds(128), std::sqrt(1e-6 * 1e-5), 1e-12);  // halfway in log
  EXPECT_NEAR(m.seconds(4194304.0 * 1024), 1e-3 * std::pow(100.0, 1.0), 1e-9);  // extrapolated
}

TEST(ScalingModel, TheShippedNetworksLoadAndABadFileIsNamed) {
  for (const char* name : {"gemini-torus", "infiniband-100g"}) {
    const Network n = load_network(name);
    EXPECT_EQ(n.name, name);
    EXPECT_GT(n.latency_s, 0);
    EXPECT_GT(n.bandwidth_bytes_per_s, 1e9);
    EXPECT_FALSE(n.sources.empty());
  }
  const std::string path = (std::filesystem::temp_directory_path() / "tide_bad_net.toml").string();
  auto expect_error = [&](const std::string& text, const std::string& what) {
    std::ofstream(path) << text;
    try {
      load_network(path);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr(path));
      EXPECT_THAT(e.what(), HasSubstr(what));
    }
  };
  expect_error("name = \"x\"\nbandwidth_gbs = 1\nsources = [\"s\"]\n", "'latency_us' is missing");
  expect_error("name = \"x\"\nlatency_us = -1\nbandwidth_gbs = 1\nsources = [\"s\"]\n",
               "'latency_us' must be a positive number");
  expect_error("name = \"x\"\nlatency_us = 1\nbandwidth_gbs = 1\n", "'sources' is missing");
  expect_error("name = \"x\"\nlatency = 1\n", "unknown key 'latency'");
  expect_error("name = \"x\n", "");
  try {
    load_network("no-such-network");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("shipped: gemini-torus, infiniband-100g"));
  }
}

}  // namespace
}  // namespace tide
