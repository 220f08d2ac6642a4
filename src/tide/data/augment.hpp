// Random perturbation of training inputs: Gaussian noise, shifts, crops, flips and random
// erasing, each sample's draw a pure function of (seed, epoch, example index), so a batch is
// the same whatever the batch size, the number of ranks or threads, and after a resume.
#pragma once

#include <atomic>
#include <memory>

#include "tide/core/options.hpp"
#include "tide/core/rng.hpp"
#include "tide/data/dataset.hpp"

namespace tide {

struct AugmentOptions {
  double noise_std = 0;  // N(0, noise_std) added to every input value
  int64_t shift = 0;     // translation by up to this many pixels each way, in each axis
  int64_t crop = 0;      // a random (H - crop) x (W - crop) window, scaled back to H x W
  double flip = 0;       // probability of mirroring left to right
  double erase = 0;      // probability of erasing one rectangle (2-33 % of the image,
                         // aspect ratio 0.3-3.3, as Zhong et al.'s random erasing)
  float fill = 0;        // the value of pixels shifted in and erased (the background)
  uint64_t seed = 0;

  bool any() const { return noise_std > 0 || shift > 0 || crop > 0 || flip > 0 || erase > 0; }
};

// The options a user sets, named by member (noise_std, shift, crop, flip, erase; flags
// --noise, --shift, --crop, --flip, --erase).
std::vector<Option> options(AugmentOptions& o);

// Throws OptionError naming the option when a value is out of range: on its own (a
// negative, NaN or infinite value), or for samples of `sample_shape` (C, H, W).
void validate(const AugmentOptions& options);
void validate(const AugmentOptions& options, const Shape& sample_shape);

// Perturbs one sample (channels, height, width) in place with draws from `rng`: crop, then
// shift, flip, erase, and noise last.
void augment_sample(float* sample, int64_t channels, int64_t height, int64_t width,
                    const AugmentOptions& options, RngStream& rng);

// A dataset whose batches are another's, perturbed. Sample `index` of epoch `e` draws from
// RngStream(seed, augment, {e, index, 1}).
class AugmentedDataset : public Dataset {
 public:
  AugmentedDataset(std::shared_ptr<Dataset> base, AugmentOptions options);
  int64_t size() const override { return base_->size(); }
  Shape sample_shape() const override { return base_->sample_shape(); }
  Batch get_batch(std::span<const int64_t> indices) const override;
  void set_epoch(int64_t epoch) override;

 private:
  std::shared_ptr<Dataset> base_;
  AugmentOptions options_;
  std::atomic<int64_t> epoch_ = 0;  // read by the loader's thread
};

}  // namespace tide
