// PNG and JPEG decoding, the geometric transforms, and the image-folder dataset.
#include <turbojpeg.h>

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"
#include "tide/data/image_folder.hpp"
#include "tide/data/image_io.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;
using testing::error_of;
using ::testing::HasSubstr;

std::string temp(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / "tide_images";
  fs::create_directories(dir);
  return (dir / name).string();
}

Image gradient(int64_t h, int64_t w, int64_t c) {
  Image img{h, w, c, {}};
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t k = 0; k < c; ++k)
        img.pixels.push_back(static_cast<uint8_t>((y * 7 + x * 3 + k * 50) % 256));
  return img;
}

void write_jpeg(const std::string& path, const Image& img) {
  tjhandle tj = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  ASSERT_EQ(tjCompress2(tj, img.pixels.data(), static_cast<int>(img.width), 0,
                        static_cast<int>(img.height), TJPF_RGB, &buf, &size, TJSAMP_444, 95, 0),
            0);
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(buf), static_cast<std::streamsize>(size));
  tjFree(buf);
  tjDestroy(tj);
}

void truncate_file(const std::string& path) {
  const auto size = fs::file_size(path);
  fs::resize_file(path, size / 2);
}

TEST(ImageIo, PngRoundTripsGrayRgbAndRgba) {
  for (int64_t c : {1, 3, 4}) {
    const Image img = gradient(5, 7, c);
    write_png(temp("rt.png"), img);
    const Image back = read_image(temp("rt.png"));
    EXPECT_EQ(back.channels, c);
    EXPECT_EQ(back.height, 5);
    EXPECT_EQ(back.width, 7);
    EXPECT_EQ(back.pixels, img.pixels);
  }
}

TEST(ImageIo, JpegDecodesCloseToTheOriginal) {
  Image img{16, 16, 3, {}};
  for (int64_t y = 0; y < 16; ++y)
    for (int64_t x = 0; x < 16; ++x)
      for (int64_t k = 0; k < 3; ++k)
        img.pixels.push_back(static_cast<uint8_t>(8 * x + 4 * y + 20 * k));
  write_jpeg(temp("a.jpg"), img);
  const Image back = read_image(temp("a.jpg"));
  ASSERT_EQ(back.pixels.size(), img.pixels.size());
  double err = 0;
  for (size_t i = 0; i < img.pixels.size(); ++i) err += std::abs(back.pixels[i] - img.pixels[i]);
  EXPECT_LT(err / static_cast<double>(img.pixels.size()), 3.0);
}

TEST(ImageIo, BadFilesGiveErrorsNamingThem) {
  write_png(temp("t.png"), gradient(40, 40, 3));
  truncate_file(temp("t.png"));
  EXPECT_THAT(error_of([] { read_image(temp("t.png")); }),
              HasSubstr("t.png: corrupt or truncated PNG"));

  write_png(temp("c.png"), gradient(8, 8, 3));
  {
    std::fstream f(temp("c.png"), std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(12);
    f.write("XXXXXXXX", 8);  // the IHDR chunk
  }
  EXPECT_THAT(error_of([] { read_image(temp("c.png")); }), HasSubstr("c.png"));

  write_jpeg(temp("t.jpg"), gradient(32, 32, 3));
  truncate_file(temp("t.jpg"));
  EXPECT_THAT(error_of([] { read_image(temp("t.jpg")); }), HasSubstr("t.jpg"));

  std::ofstream(temp("text.png")) << "hello";
  EXPECT_THAT(error_of([] { read_image(temp("text.png")); }), HasSubstr("neither PNG nor JPEG"));
  EXPECT_THAT(error_of([] { read_image(temp("none.png")); }), HasSubstr("none.png: cannot open"));
}

TEST(ImageIo, BilinearResizeUsesHalfPixelCentres) {
  const Image img{2, 2, 1, {0, 100, 200, 255}};
  const Image up = resize(img, 4, 4);
  EXPECT_EQ(std::vector<uint8_t>(up.pixels.begin(), up.pixels.begin() + 4),
            (std::vector<uint8_t>{0, 25, 75, 100}));
  Image flat{3, 5, 3, std::vector<uint8_t>(45, 77)};
  EXPECT_EQ(resize(flat, 7, 2).pixels, std::vector<uint8_t>(42, 77));
  EXPECT_EQ(resize(img, 2, 2).pixels, img.pixels);
}

TEST(ImageIo, CropTakesTheWindowAndChecksBounds) {
  const Image img = gradient(4, 5, 1);
  const Image c = crop(img, 1, 2, 2, 3);
  EXPECT_EQ(c.pixels[0], img.pixels[1 * 5 + 2]);
  EXPECT_EQ(c.pixels[5], img.pixels[2 * 5 + 4]);
  EXPECT_THAT(error_of([&] { crop(img, 3, 0, 2, 2); }), HasSubstr("leaves the 4x5 image"));
}

TEST(ImageFolder, ListsClassesLabelsAndNormalises) {
  const fs::path root = fs::path(temp("folder"));
  fs::remove_all(root);
  for (const char* cls : {"cat", "ant", "bee"}) fs::create_directories(root / cls);
  write_png((root / "ant" / "1.png").string(), Image{10, 12, 3, std::vector<uint8_t>(360, 255)});
  write_png((root / "ant" / "0.png").string(), gradient(9, 9, 1));
  write_jpeg((root / "bee" / "x.JPG").string(), gradient(20, 16, 3));
  write_png((root / "cat" / "a.png").string(), gradient(8, 8, 4));
  std::ofstream(root / "cat" / "notes.txt") << "not an image";

  ImageFolder data(root.string(), {.image_size = 8});
  EXPECT_EQ(data.size(), 4);
  EXPECT_EQ(data.classes(), (std::vector<std::string>{"ant", "bee", "cat"}));
  EXPECT_EQ(data.sample_shape(), Shape({3, 8, 8}));
  const std::vector<int64_t> all{0, 1, 2, 3};
  const Batch b = data.get_batch(all);
  EXPECT_EQ(b.targets.to_vector(), (std::vector<double>{0, 0, 1, 2}));
  // Example 1 is the white image: (1 - mean) / std in every pixel of each channel.
  const auto x = b.inputs.to_vector();
  EXPECT_NEAR(x[1 * 192 + 0], (1 - 0.485) / 0.229, 1e-5);
  EXPECT_NEAR(x[1 * 192 + 64 + 10], (1 - 0.456) / 0.224, 1e-5);
  EXPECT_EQ(data.get_batch(all).inputs.to_vector(), x);  // evaluation is deterministic

  ImageFolder train(root.string(), {.image_size = 8, .random_crop = true, .seed = 3});
  const auto e0 = train.get_batch(all).inputs.to_vector();
  EXPECT_EQ(train.get_batch(all).inputs.to_vector(), e0);
  bool changed = false;
  for (int64_t epoch = 1; epoch < 6 && !changed; ++epoch) {
    train.set_epoch(epoch);
    changed = train.get_batch(all).inputs.to_vector() != e0;
  }
  EXPECT_TRUE(changed);
}

TEST(ImageFolder, MissingRootAndEmptyClassAreErrors) {
  EXPECT_THAT(error_of([] { ImageFolder("/nonexistent/imgs", {}); }),
              HasSubstr("/nonexistent/imgs"));
  const fs::path root = fs::path(temp("empty_class"));
  fs::remove_all(root);
  fs::create_directories(root / "a");
  EXPECT_THAT(error_of([&] { ImageFolder(root.string(), {}); }), HasSubstr("holds no .png"));
}

}  // namespace
}  // namespace tide
