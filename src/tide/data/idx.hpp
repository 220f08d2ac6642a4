// The IDX format of the MNIST family: bytes 0-1 zero, byte 2 the element type (0x08 for
// unsigned bytes), byte 3 the number of dimensions, then each size as a big-endian u32,
// then the data in row-major order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tide {

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

// The most data an IDX file may declare: 16 GiB (the product of its dimensions, in bytes).
inline constexpr uint64_t kMaxIdxBytes = uint64_t{1} << 34;

// Reads an IDX file of unsigned bytes, gzip-compressed or plain (told apart by the gzip
// magic bytes). Memory follows the data actually present, never the declared size alone: a
// plain file's declared size is checked against the file's size before anything is
// allocated, and a gzip stream's buffer grows as the decompressed data arrives. Throws
// tide::Error naming the file for a missing, unreadable or non-regular file, a wrong magic
// number, an element type other than 0x08, more than 4 dimensions, declared dimensions
// whose product exceeds kMaxIdxBytes, or a header or data shorter or longer than declared.
IdxArray read_idx(const std::string& path);

}  // namespace tide
