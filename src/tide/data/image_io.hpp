// Reading and writing 8-bit images (PNG through libpng, JPEG through libjpeg-turbo) and the
// geometric transforms of image pipelines.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tide {

// Pixels (H, W, C) interleaved, C = 1 (gray), 3 (RGB) or 4 (RGBA).
struct Image {
  int64_t height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;
};

// The most an image may decode to, height x width x channels bytes (256 MiB), and the
// largest image file read (512 MiB). Both are checked before anything that size is
// allocated: the decoded size from the PNG or JPEG header.
inline constexpr uint64_t kMaxImageBytes = uint64_t{1} << 28;
inline constexpr uint64_t kMaxImageFileBytes = uint64_t{1} << 29;

// Decodes a PNG or JPEG file, told apart by its first bytes, not its name. PNGs come back
// as gray, RGB or RGBA as stored (palettes expanded, 16 bits reduced to 8); JPEGs as gray
// or RGB. Throws tide::Error naming the file for a missing, unreadable (with the system's
// reason) or non-regular file (a directory), an unknown, corrupt or truncated file, and an
// image whose header declares more than kMaxImageBytes, or more pixels than a PNG of the
// file's size can hold (deflate compresses at most 1032:1). A JPEG that decodes with a
// warning (truncated, corrupt) or a progressive one of more than 500 scans is refused.
Image read_image(const std::string& path);

// Writes an 8-bit PNG; throws naming the path on failure.
void write_png(const std::string& path, const Image& image);

// Bilinear resize with half-pixel centres (align_corners = false), no antialiasing; the
// result may not exceed kMaxImageBytes.
Image resize(const Image& image, int64_t height, int64_t width);
// The (height, width) window at (top, left); throws when it leaves the image.
Image crop(const Image& image, int64_t top, int64_t left, int64_t height, int64_t width);
// Converts to 1 (luma, ITU-R 601) or 3 channels (gray replicated, alpha dropped).
Image convert_channels(const Image& image, int64_t channels);

}  // namespace tide
