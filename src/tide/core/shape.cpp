#include "tide/core/shape.hpp"

#include <fmt/ranges.h>

#include "tide/core/error.hpp"

namespace tide {

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int64_t d : dims_)
    if (__builtin_mul_overflow(n, d, &n)) [[unlikely]]
      TIDE_FAIL("shape {} has more elements than a 64-bit count holds", str());
  return n;
}

int Shape::normalize_dim(int i) const {
  const int n = ndim();
  TIDE_CHECK(i >= -n && i < n, "dimension {} is out of range for shape {}", i, str());
  return i < 0 ? i + n : i;
}

std::string Shape::str() const {
  return fmt::format("[{}]", fmt::join(dims_, ", "));
}

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  const int n = std::max(a.ndim(), b.ndim());
  std::vector<int64_t> out(n);
  for (int i = 0; i < n; ++i) {
    const int ia = a.ndim() - n + i, ib = b.ndim() - n + i;
    const int64_t da = ia >= 0 ? a.dims()[ia] : 1;
    const int64_t db = ib >= 0 ? b.dims()[ib] : 1;
    TIDE_CHECK(da == db || da == 1 || db == 1, "shapes {} and {} do not broadcast", a.str(),
               b.str());
    out[i] = da == 1 ? db : da;
  }
  return Shape(std::move(out));
}

}  // namespace tide
