#include "tide/data/arrays.hpp"

#include <bit>
#include <cstring>
#include <filesystem>
#include <optional>
#include <vector>

#include "tide/tensor/safetensors.hpp"

namespace tide {
namespace {

static_assert(std::endian::native == std::endian::little, "both formats are little-endian");

struct TypeName {
  ElementType type;
  const char* npy;          // the NumPy descr without its byte-order character
  const char* safetensors;  // the safetensors dtype
  int64_t bytes;
};

constexpr TypeName kTypes[] = {
    {ElementType::f16, "f2", "F16", 2},      {ElementType::bf16, "", "BF16", 2},
    {ElementType::f32, "f4", "F32", 4},      {ElementType::f64, "f8", "F64", 8},
    {ElementType::boolean, "b1", "BOOL", 1}, {ElementType::u8, "u1", "U8", 1},
    {ElementType::i8, "i1", "I8", 1},        {ElementType::u16, "u2", "U16", 2},
    {ElementType::i16, "i2", "I16", 2},      {ElementType::u32, "u4", "U32", 4},
    {ElementType::i32, "i4", "I32", 4},      {ElementType::u64, "u8", "U64", 8},
    {ElementType::i64, "i8", "I64", 8},
};

const TypeName& entry(ElementType t) {
  for (const TypeName& e : kTypes)
    if (e.type == t) return e;
  TIDE_FAIL("unknown element type {}", static_cast<int>(t));
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  if (exponent != 0)
    return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
  // Zero or subnormal: mantissa * 2^-24.
  const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
  return sign ? -magnitude : magnitude;
}

template <class S, class T>
void convert_from(T* out, const char* src, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    S v;
    std::memcpy(&v, src + i * static_cast<int64_t>(sizeof(S)), sizeof(S));
    out[i] = static_cast<T>(v);
  }
}

// A reader of NumPy's header: the repr of a dict such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (60000, 28, 28), }
class NpyHeader {
 public:
  NpyHeader(std::string_view text, const std::string& path, size_t offset)
      : text_(text), path_(path), offset_(offset) {}

  struct Fields {
    std::optional<std::string> descr;
    std::optional<bool> fortran_order;
    std::optional<std::vector<int64_t>> shape;
  };

  Fields parse() {
    Fields f;
    expect('{', "the header's opening '{'");
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = string_literal();
      expect(':', "':' after a key");
      skip_space();
      if (key == "descr") {
        TIDE_CHECK(peek() == '\'' || peek() == '"',
                   "{}: byte {}: 'descr' is {}; expected a string such as '<f4' (structured "
                   "arrays are not read)",
                   path_, position(), rest());
        f.descr = string_literal();
      } else if (key == "fortran_order") {
        f.fortran_order = boolean();
      } else if (key == "shape") {
        f.shape = tuple();
      } else {
        TIDE_FAIL("{}: byte {}: the header has key '{}'; expected descr, fortran_order and shape",
                  path_, position(), key);
      }
      skip_space();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect('}', "',' or '}' after a value");
      break;
    }
    return f;
  }

 private:
  size_t position() const { return offset_ + i_; }
  char peek() const { return i_ < text_.size() ? text_[i_] : '\0'; }
  std::string rest() const {
    const std::string_view r = text_.substr(std::min(i_, text_.size()), 20);
    return r.empty() ? "the end of the header" : fmt::format("'{}'", r);
  }
  void skip_space() {
    while (i_ < text_.size() && (text_[i_] == ' ' || text_[i_] == '\n' || text_[i_] == '\t')) ++i_;
  }
  void expect(char c, const char* what) {
    skip_space();
    TIDE_CHECK(peek() == c, "{}: byte {}: expected {}, got {}", path_, position(), what, rest());
    ++i_;
  }
  std::string string_literal() {
    skip_space();
    const char quote = peek();
    TIDE_CHECK(quote == '\'' || quote == '"', "{}: byte {}: expected a quoted key, got {}", path_,
               position(), rest());
    const size_t end = text_.find(quote, i_ + 1);
    TIDE_CHECK(end != std::string_view::npos, "{}: byte {}: a string is not closed", path_,
               position());
    std::string s(text_.substr(i_ + 1, end - i_ - 1));
    i_ = end + 1;
    return s;
  }
  bool boolean() {
    if (text_.substr(i_, 4) == "True") return i_ += 4, true;
    if (text_.substr(i_, 5) == "False") return i_ += 5, false;
    TIDE_FAIL("{}: byte {}: 'fortran_order' is {}; expected True or False", path_, position(),
              rest());
  }
  std::vector<int64_t> tuple() {
    expect('(', "the shape's '('");
    std::vector<int64_t> dims;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      const size_t start = i_;
      int64_t v = 0;
      while (i_ < text_.size() && text_[i_] >= '0' && text_[i_] <= '9') {
        TIDE_CHECK(
            !__builtin_mul_overflow(v, 10, &v) && !__builtin_add_overflow(v, text_[i_] - '0', &v),
            "{}: byte {}: a size of the shape does not fit in 64 bits", path_, offset_ + start);
        ++i_;
      }
      TIDE_CHECK(i_ > start, "{}: byte {}: the shape holds {}; expected sizes >= 0", path_,
                 offset_ + start, rest());
      dims.push_back(v);
      skip_space();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      TIDE_CHECK(peek() == ')', "{}: byte {}: expected ',' or ')' in the shape, got {}", path_,
                 position(), rest());
    }
    ++i_;
    return dims;
  }

  std::string_view text_;
  const std::string& path_;
  size_t offset_, i_ = 0;
};

ElementType npy_type(const std::string& descr, const std::string& path) {
  TIDE_CHECK(descr.size() >= 2, "{}: element type '{}' is not a NumPy type string", path, descr);
  const char order = descr[0];
  const std::string code = descr.substr(1);
  TIDE_CHECK(order != '>',
             "{}: element type '{}' is big-endian; save with .astype('<{}') (little-endian)", path,
             descr, code);
  for (const TypeName& t : kTypes)
    if (*t.npy && code == t.npy) {
      TIDE_CHECK(order == '<' || order == '|' || order == '=',
                 "{}: element type '{}' has byte order '{}'; expected '<' or '|'", path, descr,
                 order);
      return t.type;
    }
  TIDE_FAIL(
      "{}: element type '{}' is not a number tide reads (floats f2 f4 f8, integers i1-i8 "
      "u1-u8, bool b1)",
      path, descr);
}

// The bytes `shape` of `element` bytes takes; throws naming `source` when it overflows.
uint64_t array_bytes(const Shape& shape, int64_t element, const std::string& source) {
  uint64_t n = static_cast<uint64_t>(element);
  for (const int64_t d : shape.dims())
    TIDE_CHECK(!__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n),
               "{}: shape {} is too large for any file", source, shape.str());
  return n;
}

}  // namespace

int64_t element_bytes(ElementType t) {
  return entry(t).bytes;
}

int64_t MappedArray::row_elements() const {
  // An array of no rows matches a file of no data whatever its other sizes: they are checked
  // here, not by the file.
  int64_t n = 1;
  for (int i = 1; i < shape.ndim(); ++i)
    TIDE_CHECK(!__builtin_mul_overflow(n, shape[i], &n) && n <= (int64_t{1} << 40),
               "{}: a row of shape {} holds more than 2^40 values", source, shape.str());
  return n;
}

template <class T>
void MappedArray::convert(T* out, int64_t first, int64_t count) const {
  const char* src = data + first * element_bytes(type);
  switch (type) {
    case ElementType::f16:
      for (int64_t i = 0; i < count; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        out[i] = static_cast<T>(half_to_float(h));
      }
      return;
    case ElementType::bf16:
      for (int64_t i = 0; i < count; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        out[i] = static_cast<T>(std::bit_cast<float>(static_cast<uint32_t>(h) << 16));
      }
      return;
    case ElementType::f32:
      return convert_from<float>(out, src, count);
    case ElementType::f64:
      return convert_from<double>(out, src, count);
    case ElementType::boolean:
      for (int64_t i = 0; i < count; ++i) out[i] = src[i] != 0 ? T(1) : T(0);
      return;
    case ElementType::u8:
      return convert_from<uint8_t>(out, src, count);
    case ElementType::i8:
      return convert_from<int8_t>(out, src, count);
    case ElementType::u16:
      return convert_from<uint16_t>(out, src, count);
    case ElementType::i16:
      return convert_from<int16_t>(out, src, count);
    case ElementType::u32:
      return convert_from<uint32_t>(out, src, count);
    case ElementType::i32:
      return convert_from<int32_t>(out, src, count);
    case ElementType::u64:
      return convert_from<uint64_t>(out, src, count);
    case ElementType::i64:
      return convert_from<int64_t>(out, src, count);
  }
}

template void MappedArray::convert(float*, int64_t, int64_t) const;
template void MappedArray::convert(double*, int64_t, int64_t) const;

MappedArray open_npy(const std::string& path) {
  auto file = std::make_shared<const MappedFile>(path);
  const std::string_view bytes = file->bytes();
  constexpr std::string_view kMagic = "\x93NUMPY";
  TIDE_CHECK(bytes.size() >= 10 && bytes.substr(0, 6) == kMagic,
             "{}: not a NumPy .npy file (it does not begin with \\x93NUMPY)", path);
  const auto major = static_cast<uint8_t>(bytes[6]);
  TIDE_CHECK(major >= 1 && major <= 3, "{}: byte 6: .npy format version {}.{}; tide reads 1 to 3",
             path, major, static_cast<uint8_t>(bytes[7]));
  const size_t length_bytes = major == 1 ? 2 : 4;
  TIDE_CHECK(bytes.size() >= 8 + length_bytes, "{}: {} bytes ends inside the header length", path,
             bytes.size());
  uint32_t header_length = 0;
  std::memcpy(&header_length, bytes.data() + 8, length_bytes);
  const size_t header_start = 8 + length_bytes;
  TIDE_CHECK(header_length <= bytes.size() - header_start,
             "{}: byte 8: the header of {} bytes runs past the end of the {}-byte file", path,
             header_length, bytes.size());
  const NpyHeader::Fields f =
      NpyHeader(bytes.substr(header_start, header_length), path, header_start).parse();
  TIDE_CHECK(f.descr && f.fortran_order && f.shape,
             "{}: the header lacks {}; expected descr, fortran_order and shape", path,
             !f.descr           ? "descr"
             : !f.fortran_order ? "fortran_order"
                                : "shape");
  const ElementType type = npy_type(*f.descr, path);
  const Shape shape(*f.shape);
  TIDE_CHECK(!*f.fortran_order || shape.ndim() <= 1,
             "{}: the array of shape {} is in Fortran (column-major) order; save "
             "np.ascontiguousarray(a) instead",
             path, shape.str());
  // The size the shape needs is checked against the bytes the file holds.
  const uint64_t need = array_bytes(shape, element_bytes(type), path);
  const uint64_t have = bytes.size() - header_start - header_length;
  TIDE_CHECK(need == have, "{}: an array of {} {} needs {} data bytes; the file holds {}", path,
             shape.str(), *f.descr, need, have);
  return {.source = path,
          .type = type,
          .shape = shape,
          .data = bytes.data() + header_start + header_length,
          .file = std::move(file)};
}

std::map<std::string, MappedArray> open_safetensors_arrays(const std::string& path) {
  auto file = std::make_shared<const MappedFile>(path);
  std::map<std::string, MappedArray> out;
  for (auto& [name, e] : read_safetensors_header(file->bytes(), path)) {
    const TypeName* type = nullptr;
    for (const TypeName& t : kTypes)
      if (e.dtype == t.safetensors) type = &t;
    TIDE_CHECK(type, "{}: tensor '{}' has dtype {}, not a number tide reads", path, name, e.dtype);
    out.emplace(name, MappedArray{.source = fmt::format("{}: tensor '{}'", path, name),
                                  .type = type->type,
                                  .shape = e.shape,
                                  .data = file->bytes().data() + e.offset,
                                  .file = file});
  }
  return out;
}

ArrayDataset::ArrayDataset(MappedArray inputs, int64_t begin, int64_t end, Tensor targets)
    : inputs_(std::move(inputs)), begin_(begin), end_(end), targets_(std::move(targets)) {
  TIDE_CHECK(inputs_.shape.ndim() >= 1 && 0 <= begin_ && begin_ <= end_ && end_ <= inputs_.rows(),
             "{}: rows [{}, {}) of an array of shape {}", inputs_.source, begin_, end_,
             inputs_.shape.str());
  TIDE_CHECK((targets_.dtype() == DType::i64 && targets_.ndim() == 1) ||
                 (targets_.dtype() == DType::f32 && targets_.ndim() == 2),
             "dataset targets must be labels i64 (N) or values f32 (N, T), got {}", targets_.str());
  TIDE_CHECK(targets_.dim(0) == size(), "{}: {} inputs but {} targets", inputs_.source, size(),
             targets_.dim(0));
}

void ArrayDataset::expect_shuffled_access() const {
  const auto row_bytes = static_cast<size_t>(inputs_.row_elements() * element_bytes(inputs_.type));
  const auto start = static_cast<size_t>(inputs_.data - inputs_.file->bytes().data());
  inputs_.file->expect_random_access(start + static_cast<size_t>(begin_) * row_bytes,
                                     static_cast<size_t>(end_ - begin_) * row_bytes);
}

Shape ArrayDataset::sample_shape() const {
  const std::vector<int64_t>& dims = inputs_.shape.dims();
  return Shape(std::vector<int64_t>(dims.begin() + 1, dims.end()));
}

Batch ArrayDataset::get_batch(std::span<const int64_t> indices) const {
  std::vector<int64_t> dims = inputs_.shape.dims();
  dims[0] = static_cast<int64_t>(indices.size());
  Tensor x = Tensor::empty(Shape(dims));
  const int64_t row = inputs_.row_elements();
  float* out = x.data<float>();
  for (size_t i = 0; i < indices.size(); ++i) {
    const int64_t k = indices[i];
    TIDE_CHECK(k >= 0 && k < size(), "example index {} is outside the dataset of {}", k, size());
    inputs_.convert(out + static_cast<int64_t>(i) * row, (begin_ + k) * row, row);
  }
  return {std::move(x), gather_rows(targets_, indices)};
}

}  // namespace tide
