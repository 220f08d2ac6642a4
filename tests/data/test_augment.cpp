// Data perturbation: each transform does what it says, the draws are a pure function of
// (seed, epoch, example index), and bad options name their flag.
#include <algorithm>
#include <cmath>
#include <numeric>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"

#include "tide/data/augment.hpp"

namespace tide {
namespace {

using ::testing::HasSubstr;
using tide::testing::error_of;

constexpr int64_t kH = 12, kW = 10;

// n copies of one image (2, 12, 10) whose pixels are 1, 2, ..., 240 (no two equal, none
// equal to a fill value below), labels 0..n-1.
std::shared_ptr<TensorDataset> images(int64_t n) {
  Tensor x = Tensor::empty({n, 2, kH, kW});
  Tensor y = Tensor::empty({n}, DType::i64);
  float* p = x.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) p[i] = static_cast<float>(i % (2 * kH * kW)) + 1.0f;
  for (int64_t i = 0; i < n; ++i) y.data<int64_t>()[i] = i;
  return std::make_shared<TensorDataset>(x, y);
}

std::vector<float> sample(const Batch& b, int64_t i) {
  const int64_t row = b.inputs.numel() / b.inputs.dim(0);
  const float* p = b.inputs.data<float>() + i * row;
  return {p, p + row};
}

std::vector<float> augmented(const AugmentOptions& o, int64_t index = 0, int64_t epoch = 0) {
  AugmentedDataset d(images(8), o);
  d.set_epoch(epoch);
  const int64_t idx[] = {index};
  return sample(d.get_batch(idx), 0);
}

TEST(Augment, DrawsDependOnSeedEpochAndIndexOnly) {
  const AugmentOptions o{
      .noise_std = 0.1, .shift = 2, .crop = 2, .flip = 0.5, .erase = 0.5, .fill = -1, .seed = 5};
  AugmentedDataset d(images(8), o);
  d.set_epoch(3);
  const int64_t pair[] = {6, 2}, one[] = {2};
  const Batch a = d.get_batch(pair), b = d.get_batch(one), again = d.get_batch(pair);
  EXPECT_EQ(sample(a, 1), sample(b, 0));  // the same example whatever batch it is in
  EXPECT_EQ(sample(a, 0), sample(again, 0));
  EXPECT_EQ(b.targets.data<int64_t>()[0], 2);
  d.set_epoch(4);
  EXPECT_NE(sample(d.get_batch(one), 0), sample(b, 0));  // another epoch, other draws
  AugmentOptions other = o;
  other.seed = 6;
  EXPECT_NE(augmented(other, 2, 3), sample(b, 0));
  EXPECT_EQ(augmented(o, 2, 3), sample(b, 0));  // a new dataset, same stream
}

TEST(Augment, FlipMirrorsEveryRow) {
  const std::vector<float> plain = sample(images(1)->get_batch(std::vector<int64_t>{0}), 0);
  const std::vector<float> flipped = augmented({.flip = 1.0});
  for (int64_t r = 0; r < 2 * kH; ++r)
    for (int64_t x = 0; x < kW; ++x) EXPECT_EQ(flipped[r * kW + x], plain[r * kW + kW - 1 - x]);
  EXPECT_EQ(augmented({.flip = 0.0, .erase = 0.0}), plain);
}

TEST(Augment, ShiftTranslatesAndFillsWithTheBackground) {
  const std::vector<float> plain = sample(images(1)->get_batch(std::vector<int64_t>{0}), 0);
  int moved = 0;
  for (int64_t index = 0; index < 8; ++index) {
    const std::vector<float> s = augmented({.shift = 3, .fill = -7}, index);
    // Some (dy, dx) in [-3, 3]^2 explains every pixel.
    bool found = false;
    for (int64_t dy = -3; dy <= 3 && !found; ++dy)
      for (int64_t dx = -3; dx <= 3 && !found; ++dx) {
        bool all = true;
        for (int64_t c = 0; c < 2 && all; ++c)
          for (int64_t y = 0; y < kH && all; ++y)
            for (int64_t x = 0; x < kW && all; ++x) {
              const int64_t sy = y - dy, sx = x - dx;
              const float want =
                  sy >= 0 && sy < kH && sx >= 0 && sx < kW ? plain[(c * kH + sy) * kW + sx] : -7.0f;
              all = s[(c * kH + y) * kW + x] == want;
            }
        if (all) {
          found = true;
          moved += dy != 0 || dx != 0;
        }
      }
    EXPECT_TRUE(found) << "example " << index;
  }
  EXPECT_GE(moved, 5);  // 8 draws from 49 shifts: at most a few are (0, 0)
}

TEST(Augment, EraseBlanksOneRectangleOfTheStatedSize) {
  const std::vector<float> plain = sample(images(1)->get_batch(std::vector<int64_t>{0}), 0);
  for (int64_t index = 0; index < 8; ++index) {
    const std::vector<float> s = augmented({.erase = 1.0, .fill = -3}, index);
    int64_t top = kH, bottom = -1, left = kW, right = -1, erased = 0;
    for (int64_t y = 0; y < kH; ++y)
      for (int64_t x = 0; x < kW; ++x) {
        const bool e = s[y * kW + x] == -3.0f;
        EXPECT_EQ(e, s[(kH + y) * kW + x] == -3.0f) << "both channels erased alike";
        if (!e) {
          EXPECT_EQ(s[y * kW + x], plain[y * kW + x]);
          continue;
        }
        ++erased;
        top = std::min(top, y), bottom = std::max(bottom, y);
        left = std::min(left, x), right = std::max(right, x);
      }
    ASSERT_GT(erased, 0) << "example " << index;
    EXPECT_EQ(erased, (bottom - top + 1) * (right - left + 1)) << "a rectangle";
    EXPECT_GE(erased, 1);
    EXPECT_LE(static_cast<double>(erased), 0.33 * kH * kW + kH + kW);  // rounding of sides
  }
}

TEST(Augment, NoiseHasTheStatedSpread) {
  const std::vector<float> plain = sample(images(1)->get_batch(std::vector<int64_t>{0}), 0);
  std::vector<double> d;
  for (int64_t index = 0; index < 8; ++index) {
    const std::vector<float> s = augmented({.noise_std = 0.5}, index);
    for (size_t i = 0; i < s.size(); ++i) d.push_back(s[i] - plain[i]);
  }
  const double mean = std::accumulate(d.begin(), d.end(), 0.0) / static_cast<double>(d.size());
  double var = 0;
  for (const double v : d) var += (v - mean) * (v - mean);
  const double sd = std::sqrt(var / static_cast<double>(d.size()));
  EXPECT_NEAR(mean, 0.0, 0.03);  // 1920 draws: standard error 0.011
  EXPECT_NEAR(sd, 0.5, 0.03);
}

TEST(Augment, CropZoomsIntoAWindow) {
  // On a ramp in x, a crop of 4 columns scaled back is a steeper ramp inside the window.
  Tensor x = Tensor::empty({1, 1, kH, kW});
  for (int64_t y = 0; y < kH; ++y)
    for (int64_t c = 0; c < kW; ++c) x.data<float>()[y * kW + c] = static_cast<float>(c);
  AugmentedDataset d(std::make_shared<TensorDataset>(x, Tensor::zeros({1}, DType::i64)),
                     {.crop = 4, .seed = 1});
  const std::vector<float> s = sample(d.get_batch(std::vector<int64_t>{0}), 0);
  const float lo = s[0], hi = s[kW - 1];
  EXPECT_GE(lo, 0.0f);
  EXPECT_LE(hi, 9.0f);
  EXPECT_NEAR(hi - lo, 5.0f, 0.61f);  // a window 6 wide: from its first to its last centre
  for (int64_t y = 1; y < kH; ++y)    // rows alike, columns increasing
    for (int64_t c = 0; c < kW; ++c) {
      EXPECT_FLOAT_EQ(s[y * kW + c], s[c]);
      if (c > 0) {
        EXPECT_GE(s[c], s[c - 1]);
      }
    }
}

// Errors name the member a library caller set (the CLI spells them as flags).
TEST(Augment, BadOptionsNameTheMember) {
  const auto make = [](AugmentOptions o) { return [o] { AugmentedDataset(images(1), o); }; };
  EXPECT_THAT(error_of(make({.shift = kW})),
              HasSubstr("shift 10 must be smaller than the image (12x10)"));
  EXPECT_THAT(error_of(make({.crop = -1})), HasSubstr("crop must be >= 0, got -1"));
  EXPECT_THAT(error_of(make({.flip = 1.5})), HasSubstr("flip must be in [0, 1], got 1.5"));
  EXPECT_THAT(error_of(make({.erase = -0.1})), HasSubstr("erase must be in [0, 1], got -0.1"));
  EXPECT_THAT(error_of(make({.noise_std = -1})), HasSubstr("noise_std must be >= 0, got -1"));
  Tensor flat = Tensor::zeros({2, 5});
  EXPECT_THAT(error_of([&] {
                AugmentedDataset(
                    std::make_shared<TensorDataset>(flat, Tensor::zeros({2}, DType::i64)),
                    {.flip = 0.5});
              }),
              HasSubstr("need images (C, H, W)"));
}

TEST(PrefixDataset, KeepsTheFirstExamples) {
  PrefixDataset d(images(8), 3);
  EXPECT_EQ(d.size(), 3);
  EXPECT_EQ(d.get_batch(std::vector<int64_t>{2}).targets.data<int64_t>()[0], 2);
  EXPECT_THAT(error_of([&] { d.get_batch(std::vector<int64_t>{3}); }),
              HasSubstr("outside the dataset of 3"));
  EXPECT_THAT(error_of([] { PrefixDataset(images(2), 5); }),
              HasSubstr("a subset of 5 examples was asked of a dataset of 2"));
}

}  // namespace
}  // namespace tide
