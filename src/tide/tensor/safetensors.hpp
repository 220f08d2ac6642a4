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

// Writes `tensors` (and string `metadata`) to `path`; throws naming the path on failure.
void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads every tensor of a safetensors file. Supported dtypes: F32, F64, I64. Throws naming
// the file, the byte offset or tensor, and what was expected for truncated or corrupt files.
TensorMap load_safetensors(const std::string& path,
                           std::map<std::string, std::string>* metadata = nullptr);

}  // namespace tide
