// A labelled image dataset in the ImageNet layout: root/<class>/<file>.png|jpg|jpeg.
#pragma once

#include <string>
#include <vector>

#include "tide/data/dataset.hpp"
#include "tide/data/image_io.hpp"

namespace tide {

// The largest image_size: an RGB input of 2048x2048 is already 48 MiB of floats.
inline constexpr int64_t kMaxImageFolderSize = 2048;

struct ImageFolderOptions {
  int64_t image_size = 224;  // inputs are (channels, image_size, image_size), 1..2048
  int64_t channels = 3;      // 1: luma; 3: RGB (gray replicated, alpha dropped)
  // Training: the shorter side resized to image_size * 8 / 7, a random crop and a random
  // horizontal flip. Evaluation: the same resize and the centre crop.
  bool random_crop = false;
  std::vector<float> mean = {0.485f, 0.456f, 0.406f};  // per channel, after scaling to [0, 1]
  std::vector<float> stddev = {0.229f, 0.224f, 0.225f};
  uint64_t seed = 0;  // crops and flips come from RngStream(seed, augment, {epoch, index})
};

// `image` resized so that its shorter side is 8/7 of `size` (at least `size`), as ImageFolder
// does before it crops a size x size square. Throws naming `path` when the result would
// exceed kMaxImageBytes.
Image resize_for_crop(const Image& image, int64_t size, const std::string& path);

class ImageFolder : public Dataset {
 public:
  // Classes are the sub-directories in sorted order; files are sorted by path; other files
  // are skipped. Throws naming the directory when the root is missing or has no class with
  // images, and for an image_size outside 1..kMaxImageFolderSize.
  ImageFolder(const std::string& root, ImageFolderOptions options);
  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  Shape sample_shape() const override;
  // Decodes the images on demand (in parallel); inputs f32 (B, C, S, S) normalised. An
  // image that read_image refuses, or one so elongated that resizing its shorter side
  // would exceed kMaxImageBytes, is an error naming its file.
  Batch get_batch(std::span<const int64_t> indices) const override;
  // Selects the augmentation stream of an epoch.
  void set_epoch(int64_t epoch) override { epoch_ = epoch; }
  const std::vector<std::string>& classes() const { return classes_; }
  const std::string& path(int64_t index) const { return files_.at(static_cast<size_t>(index)); }

 private:
  ImageFolderOptions options_;
  std::vector<std::string> classes_, files_;
  std::vector<int64_t> labels_;
  int64_t epoch_ = 0;
};

}  // namespace tide
