#include "tide/data/augment.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "tide/core/error.hpp"

namespace tide {
namespace {

// Bilinear resampling of the window (top, left, h, w) of one channel to height x width, with
// pixel centres aligned as torch's interpolate(align_corners=False).
void resize_window(float* out, const float* in, int64_t height, int64_t width, int64_t top,
                   int64_t left, int64_t h, int64_t w) {
  const double sy = static_cast<double>(h) / static_cast<double>(height);
  const double sx = static_cast<double>(w) / static_cast<double>(width);
  for (int64_t y = 0; y < height; ++y) {
    const double fy =
        std::clamp((static_cast<double>(y) + 0.5) * sy - 0.5, 0.0, static_cast<double>(h - 1));
    const int64_t y0 = static_cast<int64_t>(fy), y1 = std::min(y0 + 1, h - 1);
    const double wy = fy - static_cast<double>(y0);
    for (int64_t x = 0; x < width; ++x) {
      const double fx =
          std::clamp((static_cast<double>(x) + 0.5) * sx - 0.5, 0.0, static_cast<double>(w - 1));
      const int64_t x0 = static_cast<int64_t>(fx), x1 = std::min(x0 + 1, w - 1);
      const double wx = fx - static_cast<double>(x0);
      auto at = [&](int64_t yy, int64_t xx) {
        return static_cast<double>(in[(top + yy) * width + left + xx]);
      };
      const double v = (1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x1)) +
                       wy * ((1 - wx) * at(y1, x0) + wx * at(y1, x1));
      out[y * width + x] = static_cast<float>(v);
    }
  }
}

// A uniform integer in [-m, m].
int64_t symmetric(RngStream& rng, int64_t m) {
  return static_cast<int64_t>(rng.below(static_cast<uint64_t>(2 * m + 1))) - m;
}

}  // namespace

std::vector<Option> options(AugmentOptions& o) {
  return {
      option("noise_std", "noise", o.noise_std,
             "Add N(0, this) noise to every training input value", at_least(0)),
      option("shift", "shift", o.shift, "Shift training images by up to this many pixels each way",
             at_least(0)),
      option("crop", "crop", o.crop,
             "Crop training images by this many pixels at random and scale back", at_least(0)),
      option("flip", "flip", o.flip, "Probability of mirroring a training image", closed(0, 1)),
      option("erase", "erase", o.erase,
             "Probability of erasing a random rectangle of a training image", closed(0, 1)),
  };
}

void validate(const AugmentOptions& o) {
  AugmentOptions copy = o;
  check_limits(options(copy));
}

void validate(const AugmentOptions& o, const Shape& sample) {
  validate(o);
  if (o.shift > 0 || o.crop > 0 || o.flip > 0 || o.erase > 0) {
    check_option(sample.ndim() == 3, {"shift", "crop", "flip", "erase"},
                 "{0}, {1}, {2} and {3} need images (C, H, W); samples have shape {}",
                 sample.str());
    const int64_t smaller = std::min(sample[1], sample[2]);
    check_option(o.shift < smaller, {"shift"}, "{0} {} must be smaller than the image ({}x{})",
                 o.shift, sample[1], sample[2]);
    check_option(o.crop < smaller, {"crop"}, "{0} {} must be smaller than the image ({}x{})",
                 o.crop, sample[1], sample[2]);
  }
}

void augment_sample(float* s, int64_t channels, int64_t height, int64_t width,
                    const AugmentOptions& o, RngStream& rng) {
  const int64_t plane = height * width;
  std::vector<float> scratch;
  if (o.crop > 0) {
    const int64_t h = height - o.crop, w = width - o.crop;
    const int64_t top = static_cast<int64_t>(rng.below(static_cast<uint64_t>(o.crop + 1)));
    const int64_t left = static_cast<int64_t>(rng.below(static_cast<uint64_t>(o.crop + 1)));
    scratch.assign(s, s + channels * plane);
    for (int64_t c = 0; c < channels; ++c)
      resize_window(s + c * plane, scratch.data() + c * plane, height, width, top, left, h, w);
  }
  if (o.shift > 0) {
    const int64_t dy = symmetric(rng, o.shift), dx = symmetric(rng, o.shift);
    scratch.assign(s, s + channels * plane);
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t y = 0; y < height; ++y)
        for (int64_t x = 0; x < width; ++x) {
          const int64_t sy = y - dy, sx = x - dx;
          const bool inside = sy >= 0 && sy < height && sx >= 0 && sx < width;
          s[c * plane + y * width + x] = inside ? scratch[c * plane + sy * width + sx] : o.fill;
        }
  }
  if (o.flip > 0 && rng.uniform_double() < o.flip)
    for (int64_t r = 0; r < channels * height; ++r)
      std::reverse(s + r * width, s + (r + 1) * width);
  if (o.erase > 0 && rng.uniform_double() < o.erase) {
    // Up to 10 tries for a rectangle that fits, as torchvision's RandomErasing.
    const double area = static_cast<double>(plane);
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double target = area * (0.02 + 0.31 * rng.uniform_double());
      const double aspect =
          std::exp(std::log(0.3) + (std::log(1 / 0.3) - std::log(0.3)) * rng.uniform_double());
      const auto h = static_cast<int64_t>(std::lround(std::sqrt(target * aspect)));
      const auto w = static_cast<int64_t>(std::lround(std::sqrt(target / aspect)));
      if (h < 1 || w < 1 || h >= height || w >= width) continue;
      const auto top = static_cast<int64_t>(rng.below(static_cast<uint64_t>(height - h + 1)));
      const auto left = static_cast<int64_t>(rng.below(static_cast<uint64_t>(width - w + 1)));
      for (int64_t c = 0; c < channels; ++c)
        for (int64_t y = top; y < top + h; ++y)
          std::fill(s + c * plane + y * width + left, s + c * plane + y * width + left + w, o.fill);
      break;
    }
  }
  if (o.noise_std > 0)
    for (int64_t i = 0; i < channels * plane; ++i)
      s[i] += static_cast<float>(o.noise_std * rng.normal());
}

AugmentedDataset::AugmentedDataset(std::shared_ptr<Dataset> base, AugmentOptions options)
    : base_(std::move(base)), options_(options) {
  validate(options_, base_->sample_shape());
}

void AugmentedDataset::set_epoch(int64_t epoch) {
  epoch_ = epoch;
  base_->set_epoch(epoch);
}

Batch AugmentedDataset::get_batch(std::span<const int64_t> indices) const {
  Batch batch = base_->get_batch(indices);
  const Shape shape = base_->sample_shape();
  const int64_t c = shape.ndim() == 3 ? shape[0] : 1;
  const int64_t h = shape.ndim() == 3 ? shape[1] : 1;
  const int64_t w = shape.ndim() == 3 ? shape[2] : shape.numel();
  const uint64_t epoch = static_cast<uint64_t>(epoch_.load());
  float* data = batch.inputs.data<float>();
  for (size_t i = 0; i < indices.size(); ++i) {
    RngStream rng(options_.seed, RngPurpose::augment,
                  {epoch, static_cast<uint64_t>(indices[i]), 1});
    augment_sample(data + static_cast<int64_t>(i) * c * h * w, c, h, w, options_, rng);
  }
  return batch;
}

}  // namespace tide
