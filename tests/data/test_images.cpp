// PNG and JPEG decoding, the geometric transforms, and the image-folder dataset.
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/memory.hpp"
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

std::vector<uint8_t> file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

void put_be(std::vector<uint8_t>& b, size_t at, uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * (bytes - 1 - i)));
}

// A valid 8x8 PNG whose IHDR (with its CRC) declares width x height instead.
std::string png_declaring(const std::string& name, uint32_t width, uint32_t height) {
  const std::string path = temp(name);
  write_png(path, gradient(8, 8, 3));
  std::vector<uint8_t> b = file_bytes(path);
  put_be(b, 16, width, 4);
  put_be(b, 20, height, 4);
  put_be(b, 29, static_cast<uint32_t>(crc32(0, b.data() + 12, 17)), 4);  // type and data
  testing::write_bytes(path, b);
  return path;
}

// A valid 16x16 JPEG whose start-of-frame declares width x height instead.
std::string jpeg_declaring(const std::string& name, uint16_t width, uint16_t height) {
  const std::string path = temp(name);
  write_jpeg(path, gradient(16, 16, 3));
  std::vector<uint8_t> b = file_bytes(path);
  for (size_t i = 2; i + 9 < b.size(); ++i)
    if (b[i] == 0xFF && b[i + 1] == 0xC0) {  // SOF0: length, precision, height, width
      put_be(b, i + 5, height, 2);
      put_be(b, i + 7, width, 2);
      break;
    }
  testing::write_bytes(path, b);
  return path;
}

// The decoded size comes from the header and is checked before the pixels are allocated:
// against the cap, and (PNG) against what a file of this size can hold.
TEST(ImageIo, DeclaredSizesAreCheckedBeforeAllocating) {
  const int64_t before = testing::peak_rss_bytes();
  EXPECT_THAT(
      error_of([] { read_image(png_declaring("huge.png", 100000, 100000)); }),
      HasSubstr("huge.png: the PNG header declares 100000x100000 pixels of 3 channels "
                "(30000000000 bytes), more than the 268435456 bytes an image may decode to"));
  EXPECT_THAT(error_of([] { read_image(png_declaring("wide.png", 1000000, 1)); }),
              HasSubstr("wide.png"));
  // Under the cap, but 75 MB of pixels from a file of about 100 bytes.
  EXPECT_THAT(error_of([] { read_image(png_declaring("short.png", 5000, 5000)); }),
              HasSubstr("short.png: truncated PNG: 5000x5000 pixels need at least 3125000 bytes"));
  EXPECT_THAT(error_of([] { read_image(jpeg_declaring("huge.jpg", 65000, 65000)); }),
              HasSubstr("huge.jpg: the JPEG header declares 65000x65000 pixels of 3 channels"));
  EXPECT_THAT(error_of([] { read_image(jpeg_declaring("tall.jpg", 16, 65000)); }),
              HasSubstr("tall.jpg: corrupt or truncated JPEG"));
  EXPECT_LT(testing::peak_rss_bytes() - before, int64_t{64} << 20) << "peak resident memory grew";
  // The declared size still decodes when it is the real one.
  EXPECT_EQ(read_image(png_declaring("same.png", 8, 8)).pixels.size(), 8u * 8 * 3);
}

TEST(ImageIo, DirectoriesDevicesAndReadErrorsNameThePathAndTheReason) {
  const std::string dir = temp("folder.png");
  fs::create_directories(dir);
  EXPECT_THAT(error_of([&] { read_image(dir); }),
              HasSubstr("folder.png: is a directory; expected a regular file"));
  EXPECT_THAT(error_of([] { read_image("/dev/zero"); }),
              HasSubstr("/dev/zero: is a device; expected a regular file"));
  // /proc/self/mem is a regular file whose read at offset 0 fails with EIO.
  const std::string eio = temp("eio.png");
  fs::remove(eio);
  fs::create_symlink("/proc/self/mem", eio);
  EXPECT_THAT(error_of([&] { read_image(eio); }),
              HasSubstr("eio.png: read failed at byte 0: Input/output error"));
  const std::string locked = temp("locked.png");
  write_png(locked, gradient(4, 4, 1));
  ::chmod(locked.c_str(), 0);
  if (::geteuid() != 0) {  // root reads it anyway
    EXPECT_THAT(error_of([&] { read_image(locked); }),
                HasSubstr("locked.png: cannot open: Permission denied"));
  }
  // Files in /proc report size 0 and are read to their end all the same.
  EXPECT_THAT(error_of([] { read_image("/proc/self/status"); }),
              HasSubstr("/proc/self/status: neither PNG nor JPEG"));
}

TEST(ImageIo, BilinearResizeUsesHalfPixelCentres) {
  const Image img{2, 2, 1, {0, 100, 200, 255}};
  const Image up = resize(img, 4, 4);
  EXPECT_EQ(std::vector<uint8_t>(up.pixels.begin(), up.pixels.begin() + 4),
            (std::vector<uint8_t>{0, 25, 75, 100}));
  Image flat{3, 5, 3, std::vector<uint8_t>(45, 77)};
  EXPECT_EQ(resize(flat, 7, 2).pixels, std::vector<uint8_t>(42, 77));
  EXPECT_EQ(resize(img, 2, 2).pixels, img.pixels);
  EXPECT_THAT(error_of([] { resize(gradient(2, 2, 3), 100000, 100000); }),
              HasSubstr("resize of a 2x2 image to 100000x100000: more than the 268435456 bytes"));
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

// Resizing the shorter side to the input size would make a 1x3000 image 256x768000:
// refused by name instead of allocating 590 MB.
TEST(ImageFolder, AnImageTooElongatedToResizeNamesItsFile) {
  const fs::path root = fs::path(temp("elongated"));
  fs::remove_all(root);
  fs::create_directories(root / "a");
  write_png((root / "a" / "long.png").string(), gradient(1, 3000, 1));
  const ImageFolder folder(root.string(), {.image_size = 224});
  const std::vector<int64_t> first = {0};
  EXPECT_THAT(error_of([&] { folder.get_batch(first); }),
              HasSubstr("long.png: a 3000x1 image resized to a shorter side of 256 would be "
                        "768000x256, more than the 268435456 bytes an image may have"));
}

TEST(ImageFolder, MissingRootAndEmptyClassAreErrors) {
  EXPECT_THAT(error_of([] { ImageFolder("/nonexistent/imgs", {}); }),
              HasSubstr("/nonexistent/imgs"));
  const fs::path root = fs::path(temp("empty_class"));
  fs::remove_all(root);
  fs::create_directories(root / "a");
  EXPECT_THAT(error_of([&] { ImageFolder(root.string(), {}); }), HasSubstr("holds no .png"));
  for (const int64_t size : {int64_t{0}, int64_t{100000}})
    EXPECT_THAT(error_of([&] { ImageFolder(root.string(), {.image_size = size}); }),
                HasSubstr(fmt::format("the image size must be in [1, 2048], got {}", size)));
}

}  // namespace
}  // namespace tide
