// Reading and writing the safetensors format: an 8-byte little-endian header length, a JSON
// header naming each tensor's dtype, shape and byte range, then the raw little-endian data.
// PyTorch (and the fixture generator) reads and writes the same files.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "tide/tensor/tensor.hpp"

namespace tide {

using TensorMap = std::map<std::string, Tensor>;

// The bytes of a safetensors file holding `tensors` (in name order) and string `metadata`.
std::string encode_safetensors(const TensorMap& tensors,
                               const std::map<std::string, std::string>& metadata = {});
// The tensors of the bytes of a safetensors file; errors name `path`, the byte offset or
// tensor, and what was expected.
TensorMap decode_safetensors(std::string_view bytes, const std::string& path,
                             std::map<std::string, std::string>* metadata = nullptr);

// One tensor of a safetensors file as its header describes it: the dtype as written ("F32",
// "U8", "BF16", ...), the shape, and where its bytes are in the file.
struct SafetensorsEntry {
  std::string dtype;
  Shape shape;
  uint64_t offset = 0, bytes = 0;  // from the start of the file
};

// The bytes each element of a safetensors dtype takes, or 0 for a dtype this does not know.
int64_t safetensors_element_bytes(const std::string& dtype);

// The header of the bytes of a safetensors file, each entry checked against the file: a known
// dtype, sizes >= 0, and exactly the bytes its shape needs inside the file. Nothing is read
// beyond the header. Errors name `path`, the tensor, and what was expected.
std::map<std::string, SafetensorsEntry> read_safetensors_header(
    std::string_view bytes, const std::string& path,
    std::map<std::string, std::string>* metadata = nullptr);

// Writes `tensors` (and string `metadata`) to `path`; throws naming the path on failure.
void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads every tensor of a safetensors file. Supported dtypes: F32, F64, I64. Throws naming
// the file, the byte offset or tensor, and what was expected for truncated or corrupt files.
TensorMap load_safetensors(const std::string& path,
                           std::map<std::string, std::string>* metadata = nullptr);

}  // namespace tide
