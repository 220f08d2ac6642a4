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

// Reads an IDX file of unsigned bytes, gzip-compressed or plain (zlib tells them apart by
// content). Throws naming the file for a missing file, a wrong magic number, an element
// type other than 0x08, more than 4 dimensions, or a header or data shorter than declared.
IdxArray read_idx(const std::string& path);

}  // namespace tide
