// The data of `tide train`: the training and test sets must agree, and folder options are
// checked by flag name.
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"
#include "tide/classify/datasets.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using tide::testing::error_of;
using tide::testing::idx_bytes;
using tide::testing::write_bytes;

// An MNIST directory whose training images are train_size^2 and test images test_size^2.
std::string mnist_dir(const std::string& name, uint32_t train_size, uint32_t test_size) {
  const fs::path dir = fs::path(::testing::TempDir()) / "tide_datasets" / name;
  fs::create_directories(dir);
  for (const auto& [prefix, size] : {std::pair{"train", train_size}, {"t10k", test_size}}) {
    write_bytes((dir / (std::string(prefix) + "-images-idx3-ubyte")).string(),
                idx_bytes({2, size, size}, std::vector<uint8_t>(2 * size * size, 9)));
    write_bytes((dir / (std::string(prefix) + "-labels-idx1-ubyte")).string(),
                idx_bytes({2}, {3, 4}));
  }
  return dir.string();
}

TEST(Datasets, TestImagesOfAnotherSizeThanTheTrainingImagesNameBothFiles) {
  TrainConfig c;
  c.dataset = "mnist";
  c.data_dir = mnist_dir("mismatch", 28, 32);
  EXPECT_THAT(error_of([&] { load_datasets(c); }),
              HasSubstr(fmt::format("the training images of {0}/train-images-idx3-ubyte are "
                                    "28x28 but the test images of {0}/t10k-images-idx3-ubyte are "
                                    "32x32",
                                    c.data_dir)));
  c.data_dir = mnist_dir("match", 5, 5);
  const DataSplits d = load_datasets(c);
  EXPECT_EQ(d.test->sample_shape(), Shape({1, 5, 5}));
}

TEST(Datasets, ImageSizeOutsideItsRangeIsRefusedByName) {
  TrainConfig c;
  c.dataset = "folder";
  c.data_dir = ::testing::TempDir();
  for (const int64_t size : {int64_t{0}, int64_t{-3}, int64_t{2049}, int64_t{100000}})
    EXPECT_THAT(error_of([&] {
                  c.image_size = size;
                  load_datasets(c);
                }),
                HasSubstr(fmt::format("image_size must be in [1, 2048], got {}", size)));
}

}  // namespace
}  // namespace tide
