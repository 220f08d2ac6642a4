// Shape: the sizes of a tensor's dimensions, outermost first (row-major).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace tide {

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) : dims_(dims) {}
  explicit Shape(std::vector<int64_t> dims) : dims_(std::move(dims)) {}

  int ndim() const { return static_cast<int>(dims_.size()); }
  // Size of dimension i; negative i counts from the end (-1 is the last).
  int64_t operator[](int i) const { return dims_[normalize_dim(i)]; }
  int64_t& operator[](int i) { return dims_[normalize_dim(i)]; }
  // Product of all sizes; 1 for a scalar (ndim 0). Throws when it overflows int64.
  int64_t numel() const;
  const std::vector<int64_t>& dims() const { return dims_; }
  // Maps a possibly negative dimension index to 0..ndim-1; throws when out of range.
  int normalize_dim(int i) const;
  // "[64, 784]"
  std::string str() const;

  friend bool operator==(const Shape&, const Shape&) = default;

 private:
  std::vector<int64_t> dims_;
};

// The shape two shapes broadcast to (NumPy rules); throws naming both when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b);

}  // namespace tide

template <>
struct fmt::formatter<tide::Shape> : fmt::formatter<std::string> {
  auto format(const tide::Shape& s, fmt::format_context& ctx) const {
    return fmt::formatter<std::string>::format(s.str(), ctx);
  }
};
