// The Reducer on real ranks (ctest runs this under mpirun with 1, 2 and 3 ranks): after
// backward and finish(), every gradient is the sum over the ranks (the mean when backward
// is seeded with 1 / ranks), in buckets laid out the same way on every rank.
#include <bit>
#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"
#include "tide/autograd/ops.hpp"
#include "tide/distributed/reducer.hpp"

namespace tide {
namespace {

const Communicator& world() {
  return Communicator::world();
}

// Parameters of assorted sizes: a 0-element one, odd ones, and one larger than the buckets.
std::vector<Variable> make_parameters() {
  std::vector<Variable> p;
  for (int64_t n : {3, 1000, 0, 300'000, 5, 77}) p.emplace_back(Tensor::full({n}, 1.0), true);
  return p;
}

// The gradient rank r gives element i of parameter k: distinct per rank, exact in f32.
double coefficient(int r, size_t k, int64_t i) {
  return static_cast<double>((r + 1) * 4 + static_cast<int>(k)) + 0.25 * static_cast<double>(i % 3);
}

Tensor coefficients(int r, size_t k, int64_t n) {
  Tensor t = Tensor::empty({n});
  for (int64_t i = 0; i < n; ++i) t.data<float>()[i] = static_cast<float>(coefficient(r, k, i));
  return t;
}

// sum_k sum(p_k * c_k(r)) over the parameters in `used`: the gradient of p_k is c_k(r).
Variable loss_of(const std::vector<Variable>& params, const std::vector<size_t>& used, int r) {
  Variable loss(Tensor::scalar(0.0));
  for (size_t k : used)
    loss = loss + sum(mul(params[k], Variable(coefficients(r, k, params[k].numel()))));
  return loss;
}

// Backward seeded with `seed` (1 / ranks: the reduced gradients are means).
void backward(const Variable& loss, double seed) {
  loss.backward(Tensor::full(loss.shape(), seed));
}

// `tolerance`: relative; 1e-5 for f32 sums, 2^-7 for gradients sent as bf16 (two roundings
// to 8 significant bits: each rank's value, and the sum).
void expect_gradient(const Variable& p, size_t k, double scale, const std::vector<double>& weight,
                     double tolerance = 1e-5) {
  const int W = world().size();
  const std::vector<double> g = p.grad().to_vector();
  ASSERT_EQ(static_cast<int64_t>(g.size()), p.numel());
  int64_t bad = 0;
  for (int64_t i = 0; i < p.numel(); ++i) {
    double expected = 0;
    for (int q = 0; q < W; ++q) expected += weight[k] * coefficient(q, k, i);
    expected *= scale;
    bad += std::abs(g[static_cast<size_t>(i)] - expected) > tolerance * std::abs(expected) + 1e-6;
  }
  EXPECT_EQ(bad, 0) << "parameter " << k << " (" << p.numel() << " elements)";
}

// expect_gradient for each parameter in `ks`.
void expect_gradients(const std::vector<Variable>& params, const std::vector<size_t>& ks,
                      double scale, const std::vector<double>& weight) {
  for (size_t k : ks) expect_gradient(params[k], k, scale, weight);
}

TEST(Reducer, AveragesGradientsOverTheRanks) {
  const int W = world().size(), r = world().rank();
  std::vector<Variable> params = make_parameters();
  for (const bool overlap : {true, false}) {
    Reducer reducer(
        params, world(),
        ReducerOptions{.bucket_bytes = 400'000, .first_bucket_bytes = 64, .overlap = overlap});
    for (int step = 0; step < 3; ++step) {  // buffers are reused from step to step
      for (Variable& p : params) p.zero_grad();
      reducer.prepare(step);
      backward(loss_of(params, {0, 1, 2, 3, 4, 5}, r), 1.0 / W);
      reducer.finish();
      for (size_t k = 0; k < params.size(); ++k)
        expect_gradient(params[k], k, 1.0 / W, std::vector<double>(6, 1.0));
    }
  }
}

TEST(Reducer, Bf16CompressionAveragesToBf16Accuracy) {
  const int W = world().size(), r = world().rank();
  std::vector<Variable> params = make_parameters();
  for (const bool overlap : {true, false}) {
    Reducer reducer(params, world(),
                    ReducerOptions{.bucket_bytes = 400'000,
                                   .first_bucket_bytes = 64,
                                   .overlap = overlap,
                                   .compression = GradCompression::bf16});
    EXPECT_EQ(reducer.compression(), GradCompression::bf16);
    for (Variable& p : params) p.zero_grad();
    reducer.prepare(0);
    backward(loss_of(params, {0, 1, 2, 3, 4, 5}, r), 1.0 / W);
    reducer.finish();
    for (size_t k = 0; k < params.size(); ++k) {
      expect_gradient(params[k], k, 1.0 / W, std::vector<double>(6, 1.0), std::ldexp(1.0, -7));
      // What came over the wire is bf16: the low 16 bits of every f32 are zero.
      const Tensor g = params[k].grad();
      int64_t wide = 0;
      for (int64_t i = 0; i < g.numel(); ++i)
        wide += (std::bit_cast<uint32_t>(g.data<float>()[i]) & 0xffffu) != 0;
      EXPECT_EQ(wide, 0) << "parameter " << k << ": not bf16 values";
    }
  }
}

TEST(Reducer, WithoutOverlapThereIsNoSmallFirstBucket) {
  std::vector<Variable> params = make_parameters();
  Reducer reducer(
      params, world(),
      ReducerOptions{.bucket_bytes = 400'000, .first_bucket_bytes = 64, .overlap = false});
  std::vector<std::vector<int>> buckets;
  for (const BucketLayout& b : reducer.layout()) buckets.push_back(b.parameters);
  EXPECT_EQ(buckets, (std::vector<std::vector<int>>{{5, 4}, {3}, {2, 1, 0}}));
}

TEST(Reducer, BucketsFollowReverseParameterOrderWithASmallFirstOne) {
  std::vector<Variable> params = make_parameters();
  Reducer reducer(params, world(),
                  ReducerOptions{.bucket_bytes = 400'000, .first_bucket_bytes = 64});
  // Reverse order, in floats: 5 (77), 4 (5), 3 (300000), 2 (0), 1 (1000), 0 (3). The first
  // bucket's 64 bytes take 5 alone (a parameter is never split); 4 would push 3 over 400 kB
  // and 3 alone is over it, so each stands alone; 2, 1 and 0 share the last.
  std::vector<std::vector<int>> buckets;
  for (const BucketLayout& b : reducer.layout()) buckets.push_back(b.parameters);
  EXPECT_EQ(buckets, (std::vector<std::vector<int>>{{5}, {4}, {3}, {2, 1, 0}}));
  int64_t total = 0;
  for (const BucketLayout& b : reducer.layout()) total += b.elements;
  EXPECT_EQ(total, 3 + 1000 + 300'000 + 5 + 77);
}

TEST(Reducer, ParametersBackwardDidNotReachCountAsZero) {
  const int W = world().size(), r = world().rank();
  std::vector<Variable> params = make_parameters();
  Reducer reducer(params, world(), ReducerOptions{.bucket_bytes = 4096, .first_bucket_bytes = 64});
  reducer.prepare(0);
  backward(loss_of(params, {0, 3, 5}, r), 1.0 / W);  // 1, 2 and 4 are not used
  reducer.finish();
  expect_gradients(params, {0, 1, 3, 4}, 1.0 / W, {1, 0, 0, 1, 0, 1});
}

TEST(Reducer, SharedParameterIsReducedOnceItsGradientIsComplete) {
  const int W = world().size(), r = world().rank();
  std::vector<Variable> params = make_parameters();
  Reducer reducer(params, world(), ReducerOptions{.bucket_bytes = 4096, .first_bucket_bytes = 64});
  reducer.prepare(0);
  // Parameter 1 feeds two ops, one early and one late in backward: both parts count.
  const Variable early = sum(mul(params[1], Variable(coefficients(r, 1, 1000))));
  const Variable late = loss_of(params, {0, 1, 2, 3, 4, 5}, r);
  backward(late + early * Variable(Tensor::scalar(1.0)), 1.0 / W);
  reducer.finish();
  expect_gradients(params, {1, 3}, 1.0 / W, {1, 2, 1, 1, 1, 1});
}

TEST(Reducer, AParameterOnlyAnEarlierMicroBatchReachedKeepsItsGradient) {
  const int W = world().size(), r = world().rank();
  std::vector<Variable> params = make_parameters();
  Reducer reducer(params, world(), ReducerOptions{.bucket_bytes = 4096, .first_bucket_bytes = 64});
  backward(loss_of(params, {0, 1, 2, 3, 4, 5}, r), 1.0 / W);  // micro-batch 1 reaches all
  reducer.prepare(0);
  backward(loss_of(params, {0, 3}, r), 1.0 / W);  // micro-batch 2 reaches 0 and 3 only
  reducer.finish();
  expect_gradients(params, {0, 1, 3, 5}, 1.0 / W, {2, 1, 1, 2, 1, 1});
}

TEST(Reducer, AccumulatedMicroBatchesAreSummedThenScaled) {
  const int W = world().size(), r = world().rank();
  std::vector<Variable> params = make_parameters();
  Reducer reducer(params, world());
  for (Variable& p : params) p.zero_grad();
  backward(loss_of(params, {0, 1, 2, 3, 4, 5}, r), 0.5 / W);  // micro-batch 1: no reduction
  reducer.prepare(0);
  backward(loss_of(params, {0, 1, 2, 3, 4, 5}, r), 0.5 / W);  // micro-batch 2: reduce the sum
  reducer.finish();
  for (size_t k = 0; k < params.size(); ++k)
    expect_gradient(params[k], k, 1.0 / W, std::vector<double>(6, 1.0));
}

TEST(Reducer, SumsWithoutASeed) {
  const int r = world().rank();
  std::vector<Variable> params = make_parameters();
  Reducer reducer(params, world());
  reducer.prepare(0);
  loss_of(params, {0, 1, 2, 3, 4, 5}, r).backward();
  reducer.finish();
  for (size_t k = 0; k < params.size(); ++k)
    expect_gradient(params[k], k, 1.0, std::vector<double>(6, 1.0));
}

// Gradients that ops write through new_grad() land in the bucket itself: no copy.
TEST(Reducer, LinearWeightGradientsAreWrittenIntoTheBucket) {
  const int W = world().size(), r = world().rank();
  Variable weight(Tensor::full({4, 3}, 0.5), true), bias(Tensor::zeros({4}), true);
  Reducer reducer({weight, bias}, world());
  reducer.prepare(0);
  const Variable x(Tensor::full({2, 3}, r + 1.0));
  backward(sum(linear(x, weight, bias)), 1.0 / W);
  const void* in_place = weight.grad().raw_data();
  reducer.finish();
  EXPECT_EQ(weight.grad().raw_data(), in_place);  // the same memory, now reduced
  // d/dW of sum(x W^T + b) = sum over rows of x: 2 (r + 1) per element; mean over ranks.
  double mean = 0;
  for (int q = 0; q < W; ++q) mean += 2.0 * (q + 1) / W;
  EXPECT_EQ(weight.grad().to_vector(), std::vector<double>(12, mean));
  EXPECT_EQ(bias.grad().to_vector(), std::vector<double>(4, 2.0));
  // Outside prepare() .. finish(), gradients are ordinary tensors again.
  weight.zero_grad();
  backward(sum(linear(x, weight, bias)), 1.0);
  EXPECT_NE(weight.grad().raw_data(), in_place);
}

TEST(Reducer, RejectsMisuse) {
  std::vector<Variable> params = make_parameters();
  Reducer reducer(params, world());
  EXPECT_THAT(testing::error_of([&] { reducer.finish(); }),
              ::testing::HasSubstr("without prepare"));
  EXPECT_THAT(testing::error_of(
                  [&] { Reducer(std::vector<Variable>{Variable(Tensor::zeros({2}))}, world()); }),
              ::testing::HasSubstr("not a leaf that requires a gradient"));
  EXPECT_THAT(testing::error_of([&] {
                Reducer(std::vector<Variable>{Variable(Tensor::zeros({2}, DType::f64), true)},
                        world(), ReducerOptions{.compression = GradCompression::bf16});
              }),
              ::testing::HasSubstr("bf16 gradient compression needs f32 parameters, got f64"));
}

}  // namespace
}  // namespace tide
