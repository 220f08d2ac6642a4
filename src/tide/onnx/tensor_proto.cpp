// TensorProto <-> Tensor.
#include <bit>
#include <cstring>
#include <limits>
#include <optional>

#include <fmt/ranges.h>

#include "tide/core/error.hpp"
#include "tide/onnx/proto.hpp"

namespace tide {
namespace {

using onnx::TensorProto;

struct ElementType {
  const char* name;
  size_t bytes;  // in raw_data
  DType dtype;   // what Tide holds it as
};

std::optional<ElementType> element_type(int32_t type) {
  switch (type) {
    case TensorProto::FLOAT:
      return ElementType{"float", 4, DType::f32};
    case TensorProto::DOUBLE:
      return ElementType{"double", 8, DType::f64};
    case TensorProto::FLOAT16:
      return ElementType{"float16", 2, DType::f32};
    case TensorProto::BFLOAT16:
      return ElementType{"bfloat16", 2, DType::f32};
    case TensorProto::INT8:
      return ElementType{"int8", 1, DType::i64};
    case TensorProto::UINT8:
      return ElementType{"uint8", 1, DType::i64};
    case TensorProto::INT16:
      return ElementType{"int16", 2, DType::i64};
    case TensorProto::UINT16:
      return ElementType{"uint16", 2, DType::i64};
    case TensorProto::INT32:
      return ElementType{"int32", 4, DType::i64};
    case TensorProto::UINT32:
      return ElementType{"uint32", 4, DType::i64};
    case TensorProto::INT64:
      return ElementType{"int64", 8, DType::i64};
    case TensorProto::UINT64:
      return ElementType{"uint64", 8, DType::i64};
    case TensorProto::BOOL:
      return ElementType{"bool", 1, DType::i64};
    default:
      return std::nullopt;
  }
}

float half_to_float(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  uint32_t bits;
  if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      uint32_t m = mantissa;
      do {
        ++e;
        m <<= 1;
      } while ((m & 0x400u) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (m & 0x3ffu) << 13;
    }
  } else if (exponent == 31) {
    bits = sign | 0x7f800000u | mantissa << 13;
  } else {
    bits = sign | (exponent + 127 - 15) << 23 | mantissa << 13;
  }
  return std::bit_cast<float>(bits);
}

// Element i of raw little-endian data of `type`, as a double (exact for every integer type
// Tide keeps: indices and shapes fit in 53 bits) or, for the integer types, as int64.
template <typename Out>
Out raw_element(const char* p, int32_t type) {
  switch (type) {
    case TensorProto::FLOAT:
      return static_cast<Out>(*reinterpret_cast<const float*>(p));
    case TensorProto::DOUBLE:
      return static_cast<Out>(*reinterpret_cast<const double*>(p));
    case TensorProto::FLOAT16: {
      uint16_t h;
      std::memcpy(&h, p, 2);
      return static_cast<Out>(half_to_float(h));
    }
    case TensorProto::BFLOAT16: {
      uint16_t h;
      std::memcpy(&h, p, 2);
      return static_cast<Out>(std::bit_cast<float>(uint32_t{h} << 16));
    }
    case TensorProto::INT8:
      return static_cast<Out>(*reinterpret_cast<const int8_t*>(p));
    case TensorProto::UINT8:
    case TensorProto::BOOL:
      return static_cast<Out>(*reinterpret_cast<const uint8_t*>(p));
    case TensorProto::INT16:
      return static_cast<Out>(*reinterpret_cast<const int16_t*>(p));
    case TensorProto::UINT16:
      return static_cast<Out>(*reinterpret_cast<const uint16_t*>(p));
    case TensorProto::INT32:
      return static_cast<Out>(*reinterpret_cast<const int32_t*>(p));
    case TensorProto::UINT32:
      return static_cast<Out>(*reinterpret_cast<const uint32_t*>(p));
    case TensorProto::INT64:
      return static_cast<Out>(*reinterpret_cast<const int64_t*>(p));
    default:
      return static_cast<Out>(*reinterpret_cast<const uint64_t*>(p));
  }
}

template <typename Out>
void fill(Out* out, int64_t n, const TensorProto& t) {
  const int32_t type = t.data_type();
  if (t.has_raw_data()) {
    const size_t bytes = element_type(type)->bytes;
    const char* p = t.raw_data().data();
    for (int64_t i = 0; i < n; ++i) out[i] = raw_element<Out>(p + i * bytes, type);
    return;
  }
  switch (type) {
    case TensorProto::FLOAT:
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<Out>(t.float_data(i));
      return;
    case TensorProto::DOUBLE:
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<Out>(t.double_data(i));
      return;
    case TensorProto::INT64:
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<Out>(t.int64_data(i));
      return;
    case TensorProto::UINT32:
    case TensorProto::UINT64:
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<Out>(t.uint64_data(i));
      return;
    case TensorProto::FLOAT16:
      for (int64_t i = 0; i < n; ++i)
        out[i] = static_cast<Out>(half_to_float(static_cast<uint16_t>(t.int32_data(i))));
      return;
    case TensorProto::BFLOAT16:
      for (int64_t i = 0; i < n; ++i)
        out[i] = static_cast<Out>(
            std::bit_cast<float>(static_cast<uint32_t>(t.int32_data(i) & 0xffff) << 16));
      return;
    default:  // the int32_data types
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<Out>(t.int32_data(i));
  }
}

int64_t typed_count(const TensorProto& t) {
  switch (t.data_type()) {
    case TensorProto::FLOAT:
      return t.float_data_size();
    case TensorProto::DOUBLE:
      return t.double_data_size();
    case TensorProto::INT64:
      return t.int64_data_size();
    case TensorProto::UINT32:
    case TensorProto::UINT64:
      return t.uint64_data_size();
    default:
      return t.int32_data_size();
  }
}

}  // namespace

Tensor tensor_from_proto(const TensorProto& t, const std::string& what) {
  TIDE_CHECK(t.data_location() != TensorProto::EXTERNAL,
             "{}: its data is stored outside the file (external data); Tide reads self-contained "
             ".onnx files (save with onnx.save_model(..., save_as_external_data=False))",
             what);
  const std::optional<ElementType> type = element_type(t.data_type());
  TIDE_CHECK(type.has_value(),
             "{}: its element type {} ({}) is not one Tide reads (float, double, float16, "
             "bfloat16, integers, bool)",
             what, t.data_type(),
             TensorProto::DataType_IsValid(t.data_type())
                 ? TensorProto::DataType_Name(static_cast<TensorProto::DataType>(t.data_type()))
                 : "unknown");
  std::vector<int64_t> dims;
  int64_t n = 1;
  for (const int64_t d : t.dims()) {
    TIDE_CHECK(d >= 0 && d <= (int64_t{1} << 40), "{}: dimension {} is not a size", what, d);
    TIDE_CHECK(d == 0 || n <= std::numeric_limits<int64_t>::max() / d,
               "{}: its dimensions overflow", what);
    n *= d;
    dims.push_back(d);
  }
  const int64_t have =
      t.has_raw_data() ? static_cast<int64_t>(t.raw_data().size() / type->bytes) : typed_count(t);
  const bool whole = !t.has_raw_data() || t.raw_data().size() % type->bytes == 0;
  TIDE_CHECK(have == n && whole, "{}: its dimensions [{}] hold {} {} values, but it has {}", what,
             fmt::join(dims, ", "), n, type->name,
             t.has_raw_data() ? fmt::format("{} bytes of raw data", t.raw_data().size())
                              : fmt::format("{} values", have));
  Tensor out = Tensor::empty(Shape(dims), type->dtype);
  switch (type->dtype) {
    case DType::f32:
      fill(out.data<float>(), n, t);
      break;
    case DType::f64:
      fill(out.data<double>(), n, t);
      break;
    default:
      fill(out.data<int64_t>(), n, t);
  }
  return out;
}

void tensor_to_proto(const Tensor& t, const std::string& name, TensorProto* out) {
  out->set_name(name);
  for (int i = 0; i < t.ndim(); ++i) out->add_dims(t.dim(i));
  switch (t.dtype()) {
    case DType::f32:
      out->set_data_type(TensorProto::FLOAT);
      break;
    case DType::f64:
      out->set_data_type(TensorProto::DOUBLE);
      break;
    case DType::i64:
      out->set_data_type(TensorProto::INT64);
      break;
  }
  out->set_raw_data(static_cast<const char*>(t.raw_data()), t.nbytes());
}

}  // namespace tide
