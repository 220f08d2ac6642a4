// DType: the element types a tensor can hold.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tide {

// f32 for activations and parameters; f64 for reference computations (gradient checks);
// i64 for labels and token ids.
enum class DType : uint8_t { f32, f64, i64 };

size_t dtype_size(DType t);
std::string_view dtype_name(DType t);

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::f32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::f64;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::i64;
}

}  // namespace tide
