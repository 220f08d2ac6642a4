#include "tide/data/image_io.hpp"

#include <png.h>
#include <turbojpeg.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <memory>
#include <span>

#include "tide/core/error.hpp"
#include "tide/core/read_file.hpp"

namespace tide {
namespace {

// Throws unless an image of height x width x channels is within kMaxImageBytes.
void check_decoded_size(const std::string& path, const char* format, uint64_t height,
                        uint64_t width, uint64_t channels) {
  TIDE_CHECK(height > 0 && width > 0, "{}: the {} header declares a {}x{} image", path, format,
             width, height);
  // Each factor is below 2^32, so the product of height and width cannot overflow.
  TIDE_CHECK(height * width <= kMaxImageBytes / channels,
             "{}: the {} header declares {}x{} pixels of {} channel{} ({} bytes), more than the "
             "{} bytes an image may decode to",
             path, format, width, height, channels, channels == 1 ? "" : "s",
             static_cast<double>(height) * static_cast<double>(width * channels), kMaxImageBytes);
}

// libpng's simplified API reports errors in the image struct instead of longjmp, so no C++
// object can be skipped by an error.
Image decode_png(std::span<const uint8_t> bytes, const std::string& path) {
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  TIDE_CHECK(png_image_begin_read_from_memory(&png, bytes.data(), bytes.size()) != 0,
             "{}: not a readable PNG: {}", path, png.message);
  const bool alpha = png.format & PNG_FORMAT_FLAG_ALPHA, color = png.format & PNG_FORMAT_FLAG_COLOR;
  png.format = color ? (alpha ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB)
                     : (alpha ? PNG_FORMAT_RGBA : PNG_FORMAT_GRAY);
  const int64_t channels = PNG_IMAGE_SAMPLE_CHANNELS(png.format);
  try {
    check_decoded_size(path, "PNG", png.height, png.width, static_cast<uint64_t>(channels));
    // Every layout stores 1 bit a pixel or more, and deflate expands at most 1032 times: a
    // short file declaring many pixels is truncated, whatever libpng would find after they
    // were allocated.
    const uint64_t least = (uint64_t{png.height} * png.width + 7) / 8;
    TIDE_CHECK(least <= 1032 * uint64_t{bytes.size()},
               "{}: truncated PNG: {}x{} pixels need at least {} bytes of image data (1 bit a "
               "pixel), more than its {} bytes can hold (deflate expands at most 1032 times)",
               path, png.width, png.height, least, bytes.size());
  } catch (...) {
    png_image_free(&png);
    throw;
  }
  Image img{png.height, png.width, channels, {}};
  img.pixels.resize(static_cast<size_t>(img.height * img.width * channels));
  const int ok = png_image_finish_read(&png, nullptr, img.pixels.data(), 0, nullptr);
  const std::string message = png.message;
  png_image_free(&png);
  TIDE_CHECK(ok != 0, "{}: corrupt or truncated PNG: {}", path, message);
  return img;
}

Image decode_jpeg(std::span<const uint8_t> bytes, const std::string& path) {
  std::unique_ptr<void, int (*)(tjhandle)> tj(tjInitDecompress(), tjDestroy);
  TIDE_CHECK(tj != nullptr, "{}: cannot start the JPEG decoder", path);
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  TIDE_CHECK(tjDecompressHeader3(tj.get(), bytes.data(), static_cast<unsigned long>(bytes.size()),
                                 &width, &height, &subsampling, &colorspace) == 0,
             "{}: not a readable JPEG: {}", path, tjGetErrorStr2(tj.get()));
  TIDE_CHECK(colorspace != TJCS_CMYK && colorspace != TJCS_YCCK,
             "{}: CMYK JPEGs are not supported; expected gray or color", path);
  const bool gray = colorspace == TJCS_GRAY;
  check_decoded_size(path, "JPEG", static_cast<uint64_t>(height), static_cast<uint64_t>(width),
                     gray ? 1 : 3);
  Image img{height, width, gray ? 1 : 3, {}};
  img.pixels.resize(static_cast<size_t>(height) * width * img.channels);
  const int rc = tjDecompress2(tj.get(), bytes.data(), static_cast<unsigned long>(bytes.size()),
                               img.pixels.data(), width, 0, height, gray ? TJPF_GRAY : TJPF_RGB,
                               TJFLAG_ACCURATEDCT | TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS);
  // A truncated JPEG decodes with a warning and grey fill; Tide treats it as the error it is,
  // and stops at it. A progressive JPEG of more than 500 scans (a decoding-time bomb: each
  // scan passes over the whole image) is refused too.
  TIDE_CHECK(rc == 0, "{}: corrupt or truncated JPEG: {}", path, tjGetErrorStr2(tj.get()));
  return img;
}

}  // namespace

Image read_image(const std::string& path) {
  const std::string file = read_file_bytes(path, kMaxImageFileBytes, "an image file");
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(file.data()), file.size());
  static const uint8_t png_magic[] = {0x89, 'P', 'N', 'G'}, jpeg_magic[] = {0xFF, 0xD8, 0xFF};
  if (bytes.size() >= 4 && std::equal(png_magic, png_magic + 4, bytes.begin()))
    return decode_png(bytes, path);
  if (bytes.size() >= 3 && std::equal(jpeg_magic, jpeg_magic + 3, bytes.begin()))
    return decode_jpeg(bytes, path);
  TIDE_FAIL("{}: neither PNG nor JPEG (the file starts with no known signature)", path);
}

void write_png(const std::string& path, const Image& img) {
  TIDE_CHECK(img.channels == 1 || img.channels == 3 || img.channels == 4,
             "{}: cannot write a PNG of {} channels", path, img.channels);
  TIDE_CHECK(static_cast<int64_t>(img.pixels.size()) == img.height * img.width * img.channels,
             "{}: image holds {} bytes, not {}x{}x{}", path, img.pixels.size(), img.height,
             img.width, img.channels);
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(img.width);
  png.height = static_cast<png_uint_32>(img.height);
  png.format = img.channels == 1   ? PNG_FORMAT_GRAY
               : img.channels == 3 ? PNG_FORMAT_RGB
                                   : PNG_FORMAT_RGBA;
  const int ok = png_image_write_to_file(&png, path.c_str(), 0, img.pixels.data(), 0, nullptr);
  const std::string message = png.message;
  png_image_free(&png);
  TIDE_CHECK(ok != 0, "{}: cannot write PNG: {}", path, message);
}

Image resize(const Image& src, int64_t height, int64_t width) {
  TIDE_CHECK(height > 0 && width > 0 && src.height > 0 && src.width > 0,
             "resize of a {}x{} image to {}x{}: sizes must be positive", src.height, src.width,
             height, width);
  TIDE_CHECK(static_cast<double>(height) * static_cast<double>(width) *
                     static_cast<double>(src.channels) <=
                 static_cast<double>(kMaxImageBytes),
             "resize of a {}x{} image to {}x{}: more than the {} bytes an image may have",
             src.height, src.width, height, width, kMaxImageBytes);
  Image out{height, width, src.channels, {}};
  out.pixels.resize(static_cast<size_t>(height * width * src.channels));
  const double sy = static_cast<double>(src.height) / height,
               sx = static_cast<double>(src.width) / width;
  for (int64_t y = 0; y < height; ++y) {
    const double fy = std::clamp((y + 0.5) * sy - 0.5, 0.0, static_cast<double>(src.height - 1));
    const int64_t y0 = static_cast<int64_t>(fy), y1 = std::min(y0 + 1, src.height - 1);
    const double wy = fy - y0;
    for (int64_t x = 0; x < width; ++x) {
      const double fx = std::clamp((x + 0.5) * sx - 0.5, 0.0, static_cast<double>(src.width - 1));
      const int64_t x0 = static_cast<int64_t>(fx), x1 = std::min(x0 + 1, src.width - 1);
      const double wx = fx - x0;
      for (int64_t c = 0; c < src.channels; ++c) {
        auto at = [&](int64_t yy, int64_t xx) {
          return static_cast<double>(src.pixels[(yy * src.width + xx) * src.channels + c]);
        };
        const double v = (1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x1)) +
                         wy * ((1 - wx) * at(y1, x0) + wx * at(y1, x1));
        out.pixels[(y * width + x) * src.channels + c] =
            static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
      }
    }
  }
  return out;
}

Image crop(const Image& src, int64_t top, int64_t left, int64_t height, int64_t width) {
  TIDE_CHECK(top >= 0 && left >= 0 && height > 0 && width > 0 && top + height <= src.height &&
                 left + width <= src.width,
             "crop of {}x{} at ({}, {}) leaves the {}x{} image", height, width, top, left,
             src.height, src.width);
  Image out{height, width, src.channels, {}};
  out.pixels.resize(static_cast<size_t>(height * width * src.channels));
  for (int64_t y = 0; y < height; ++y)
    std::memcpy(out.pixels.data() + y * width * src.channels,
                src.pixels.data() + ((top + y) * src.width + left) * src.channels,
                static_cast<size_t>(width * src.channels));
  return out;
}

Image convert_channels(const Image& src, int64_t channels) {
  TIDE_CHECK(channels == 1 || channels == 3, "images convert to 1 or 3 channels, not {}", channels);
  if (src.channels == channels) return src;
  Image out{src.height, src.width, channels, {}};
  out.pixels.resize(static_cast<size_t>(src.height * src.width * channels));
  for (int64_t i = 0; i < src.height * src.width; ++i) {
    const uint8_t* p = src.pixels.data() + i * src.channels;
    const bool color = src.channels >= 3;
    if (channels == 1)
      out.pixels[i] =
          color ? static_cast<uint8_t>(std::lround(0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]))
                : p[0];
    else
      for (int64_t c = 0; c < 3; ++c) out.pixels[i * 3 + c] = color ? p[c] : p[0];
  }
  return out;
}

}  // namespace tide
