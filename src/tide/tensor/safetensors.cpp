#include "tide/tensor/safetensors.hpp"

#include "tide/core/read_file.hpp"

#include <cstring>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

namespace tide {
namespace {

// This format's data is little-endian, as is every machine Tide builds for.
static_assert(std::endian::native == std::endian::little);

// A header larger than this is taken as corruption rather than allocated.
constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;

const char* dtype_tag(DType t) {
  switch (t) {
    case DType::f32:
      return "F32";
    case DType::f64:
      return "F64";
    case DType::i64:
      return "I64";
  }
  return "?";
}

DType dtype_from_tag(const std::string& tag, const std::string& path, const std::string& name) {
  if (tag == "F32") return DType::f32;
  if (tag == "F64") return DType::f64;
  if (tag == "I64") return DType::i64;
  TIDE_FAIL("{}: tensor '{}' has dtype {}; expected F32, F64 or I64", path, name, tag);
}

// The bytes a tensor of `shape` takes; throws naming the file and tensor when a size is
// negative or the count overflows.
uint64_t shape_bytes(const Shape& shape, uint64_t element_bytes, const std::string& path,
                     const std::string& name) {
  uint64_t n = element_bytes;
  for (const int64_t d : shape.dims()) {
    TIDE_CHECK(d >= 0, "{}: tensor '{}' has shape {}: sizes must be >= 0", path, name, shape.str());
    TIDE_CHECK(!__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n),
               "{}: tensor '{}' has shape {}, too large for any file", path, name, shape.str());
  }
  return n;
}

}  // namespace

std::string encode_safetensors(const TensorMap& tensors,
                               const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    TIDE_CHECK(t.defined(), "safetensors: tensor '{}' is undefined", name);
    header[name] = {{"dtype", dtype_tag(t.dtype())},
                    {"shape", t.shape().dims()},
                    {"data_offsets", {offset, offset + t.nbytes()}}};
    offset += t.nbytes();
  }
  std::string text = header.dump();
  // Pad the header with spaces so the data starts 8-byte aligned, as the format recommends.
  text.append((8 - text.size() % 8) % 8, ' ');
  const uint64_t n = text.size();
  std::string bytes;
  bytes.reserve(8 + n + offset);
  bytes.append(reinterpret_cast<const char*>(&n), 8);
  bytes += text;
  for (const auto& [name, t] : tensors)
    bytes.append(static_cast<const char*>(t.raw_data()), t.nbytes());
  return bytes;
}

void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const std::string bytes = encode_safetensors(tensors, metadata);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  TIDE_CHECK(out, "{}: cannot open for writing: {}", path, std::strerror(errno));
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.flush();
  TIDE_CHECK(out, "{}: write failed: {}", path, std::strerror(errno));
}

TensorMap load_safetensors(const std::string& path, std::map<std::string, std::string>* metadata) {
  return decode_safetensors(read_file_bytes(path), path, metadata);
}

int64_t safetensors_element_bytes(const std::string& dtype) {
  static const std::map<std::string, int64_t> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"U16", 2}, {"I16", 2}, {"F16", 2}, {"BF16", 2},
      {"U32", 4},  {"I32", 4}, {"F32", 4}, {"U64", 8}, {"I64", 8}, {"F64", 8}};
  const auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

std::map<std::string, SafetensorsEntry> read_safetensors_header(
    std::string_view bytes, const std::string& path, std::map<std::string, std::string>* metadata) {
  const uint64_t file_size = bytes.size();
  uint64_t header_size = 0;
  TIDE_CHECK(file_size >= 8,
             "{}: {} bytes is too short for a safetensors file (needs an 8-byte "
             "header length)",
             path, file_size);
  std::memcpy(&header_size, bytes.data(), 8);
  TIDE_CHECK(header_size <= kMaxHeaderBytes && 8 + header_size <= file_size,
             "{}: header length {} at byte 0 exceeds the file size {}", path, header_size,
             file_size);
  const std::string text(bytes.substr(8, header_size));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    TIDE_FAIL("{}: the JSON header at byte 8 is invalid: {}", path, e.what());
  }
  TIDE_CHECK(header.is_object(), "{}: the JSON header is not an object", path);
  const uint64_t data_start = 8 + header_size, data_size = file_size - data_start;
  std::map<std::string, SafetensorsEntry> out;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (metadata) try {
          for (const auto& [k, v] : entry.items()) (*metadata)[k] = v.get<std::string>();
        } catch (const nlohmann::json::exception& e) {
          TIDE_FAIL("{}: __metadata__ must map names to strings: {}", path, e.what());
        }
      continue;
    }
    try {
      SafetensorsEntry e{.dtype = entry.at("dtype").get<std::string>(),
                         .shape = Shape(entry.at("shape").get<std::vector<int64_t>>())};
      const int64_t element = safetensors_element_bytes(e.dtype);
      TIDE_CHECK(element > 0,
                 "{}: tensor '{}' has dtype {}, which tide does not read (it reads BOOL, U8, I8, "
                 "U16, I16, U32, I32, U64, I64, F16, BF16, F32 and F64)",
                 path, name, e.dtype);
      const auto offsets = entry.at("data_offsets").get<std::vector<uint64_t>>();
      TIDE_CHECK(offsets.size() == 2 && offsets[0] <= offsets[1] && offsets[1] <= data_size,
                 "{}: tensor '{}' has data offsets outside the {} data bytes", path, name,
                 data_size);
      // The size the shape needs is checked against the bytes the file holds before anything
      // is allocated from it.
      const uint64_t need = shape_bytes(e.shape, static_cast<uint64_t>(element), path, name);
      TIDE_CHECK(offsets[1] - offsets[0] == need,
                 "{}: tensor '{}' of shape {} needs {} bytes, the header gives {}", path, name,
                 e.shape.str(), need, offsets[1] - offsets[0]);
      e.offset = data_start + offsets[0];
      e.bytes = need;
      out.emplace(name, std::move(e));
    } catch (const nlohmann::json::exception& e) {
      TIDE_FAIL("{}: header entry for tensor '{}' is malformed: {}", path, name, e.what());
    }
  }
  return out;
}

TensorMap decode_safetensors(std::string_view bytes, const std::string& path,
                             std::map<std::string, std::string>* metadata) {
  TensorMap out;
  for (const auto& [name, e] : read_safetensors_header(bytes, path, metadata)) {
    Tensor t = Tensor::empty(e.shape, dtype_from_tag(e.dtype, path, name));
    std::memcpy(t.raw_data(), bytes.data() + e.offset, t.nbytes());
    out.emplace(name, std::move(t));
  }
  return out;
}

}  // namespace tide
