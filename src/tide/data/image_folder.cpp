#include "tide/data/image_folder.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <filesystem>

#include "tide/core/rng.hpp"
#include "tide/data/image_io.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;

bool is_image(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

}  // namespace

ImageFolder::ImageFolder(const std::string& root, ImageFolderOptions options)
    : options_(std::move(options)) {
  TIDE_CHECK(options_.image_size >= 1 && options_.image_size <= kMaxImageFolderSize,
             "image folder {}: the image size must be in [1, {}], got {}", root,
             kMaxImageFolderSize, options_.image_size);
  TIDE_CHECK(options_.channels == 1 || options_.channels == 3,
             "images have 1 or 3 channels, not {}", options_.channels);
  TIDE_CHECK(static_cast<int64_t>(options_.mean.size()) >= options_.channels &&
                 static_cast<int64_t>(options_.stddev.size()) >= options_.channels,
             "image normalisation needs a mean and a standard deviation per channel");
  TIDE_CHECK(fs::is_directory(root), "image folder {} does not exist or is not a directory", root);
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory()) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  TIDE_CHECK(!dirs.empty(), "image folder {} has no class directories (expected {}/<class>/*.png)",
             root, root);
  for (const fs::path& dir : dirs) {
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file() && is_image(e.path())) files.push_back(e.path().string());
    TIDE_CHECK(!files.empty(), "class directory {} holds no .png, .jpg or .jpeg files",
               dir.string());
    std::sort(files.begin(), files.end());
    for (const std::string& f : files) {
      files_.push_back(f);
      labels_.push_back(static_cast<int64_t>(classes_.size()));
    }
    classes_.push_back(dir.filename().string());
  }
}

Shape ImageFolder::sample_shape() const {
  return {options_.channels, options_.image_size, options_.image_size};
}

Image resize_for_crop(const Image& img, int64_t s, const std::string& path) {
  const int64_t shorter = std::max<int64_t>(s, std::lround(s * 8.0 / 7.0));
  const double scale = static_cast<double>(shorter) / std::min(img.height, img.width);
  const double rows = std::max<double>(s, std::round(img.height * scale)),
               columns = std::max<double>(s, std::round(img.width * scale));
  // A very elongated image grows along its long side with the short one.
  TIDE_CHECK(
      rows * columns * static_cast<double>(img.channels) <= static_cast<double>(kMaxImageBytes),
      "{}: a {}x{} image resized to a shorter side of {} would be {:.0f}x{:.0f}, more "
      "than the {} bytes an image may have",
      path, img.width, img.height, shorter, columns, rows, kMaxImageBytes);
  return resize(img, static_cast<int64_t>(rows), static_cast<int64_t>(columns));
}

Batch ImageFolder::get_batch(std::span<const int64_t> indices) const {
  const int64_t b = static_cast<int64_t>(indices.size()), s = options_.image_size,
                c = options_.channels;
  Batch batch{Tensor::empty({b, c, s, s}), Tensor::empty({b}, DType::i64)};
  float* out = batch.inputs.data<float>();
  std::exception_ptr error;
  // Exceptions must not leave an OpenMP region: the first is kept and rethrown after it.
#pragma omp parallel for schedule(dynamic)
  for (int64_t i = 0; i < b; ++i) {
    try {
      const int64_t k = indices[static_cast<size_t>(i)];
      TIDE_CHECK(k >= 0 && k < size(), "image index {} is outside the dataset of {}", k, size());
      const std::string& path = files_[static_cast<size_t>(k)];
      Image img = resize_for_crop(convert_channels(read_image(path), c), s, path);
      int64_t top = (img.height - s) / 2, left = (img.width - s) / 2;
      bool flip = false;
      if (options_.random_crop) {
        RngStream rng(options_.seed, RngPurpose::augment,
                      {static_cast<uint64_t>(epoch_), static_cast<uint64_t>(k)});
        top = static_cast<int64_t>(rng.below(static_cast<uint64_t>(img.height - s + 1)));
        left = static_cast<int64_t>(rng.below(static_cast<uint64_t>(img.width - s + 1)));
        flip = rng.below(2) == 1;
      }
      img = crop(img, top, left, s, s);
      for (int64_t ch = 0; ch < c; ++ch) {
        const float scale_c = 1.0f / (255.0f * options_.stddev[ch]);
        const float shift = options_.mean[ch] / options_.stddev[ch];
        for (int64_t y = 0; y < s; ++y)
          for (int64_t x = 0; x < s; ++x) {
            const int64_t sx = flip ? s - 1 - x : x;
            out[((i * c + ch) * s + y) * s + x] =
                img.pixels[(y * s + sx) * c + ch] * scale_c - shift;
          }
      }
      batch.targets.data<int64_t>()[i] = labels_[static_cast<size_t>(k)];
    } catch (...) {
#pragma omp critical
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  return batch;
}

}  // namespace tide
