#include "tide/tensor/tensor.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <type_traits>

#include "tide/core/alloc.hpp"

namespace tide {

Storage::Storage(size_t bytes) : data_(allocate_bytes(bytes)), bytes_(bytes) {}
Storage::~Storage() {
  free_bytes(data_, bytes_);
}

namespace {

template <class F>
void visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::f32:
      return f(float{});
    case DType::f64:
      return f(double{});
    case DType::i64:
      return f(int64_t{});
  }
}

}  // namespace

Tensor Tensor::empty(Shape shape, DType dtype) {
  for (int64_t d : shape.dims())
    TIDE_CHECK(d >= 0, "cannot create a tensor of shape {}: negative size", shape.str());
  const int64_t n = shape.numel();
  TIDE_CHECK(n <= std::numeric_limits<int64_t>::max() / static_cast<int64_t>(dtype_size(dtype)),
             "cannot create a {} tensor of shape {}: its byte count overflows", dtype_name(dtype),
             shape.str());
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  try {
    t.storage_ = std::make_shared<Storage>(t.nbytes());
  } catch (const Error& e) {
    TIDE_FAIL("cannot create a {} tensor of shape {}: {}", dtype_name(dtype), t.shape_.str(),
              e.what());
  } catch (const std::bad_alloc&) {
    TIDE_FAIL("cannot create a {} tensor of shape {}: out of memory for {} bytes",
              dtype_name(dtype), t.shape_.str(), t.nbytes());
  }
  return t;
}

Tensor Tensor::zeros(Shape shape, DType dtype) {
  Tensor t = empty(std::move(shape), dtype);
  std::memset(t.raw_data(), 0, t.nbytes());
  return t;
}

Tensor Tensor::full(Shape shape, double value, DType dtype) {
  Tensor t = empty(std::move(shape), dtype);
  t.fill(value);
  return t;
}

template <class T>
Tensor Tensor::from(Shape shape, std::span<const T> values) {
  TIDE_CHECK(static_cast<int64_t>(values.size()) == shape.numel(),
             "{} values given for a tensor of shape {}", values.size(), shape.str());
  Tensor t = empty(std::move(shape), dtype_of<T>());
  if (t.nbytes() > 0) std::memcpy(t.raw_data(), values.data(), t.nbytes());  // none: no pointer
  return t;
}
template Tensor Tensor::from<float>(Shape, std::span<const float>);
template Tensor Tensor::from<double>(Shape, std::span<const double>);
template Tensor Tensor::from<int64_t>(Shape, std::span<const int64_t>);

void* Tensor::raw_data() const {
  TIDE_CHECK(defined(), "use of an undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_ * dtype_size(dtype_);
}

void Tensor::check_dtype(DType expected) const {
  TIDE_CHECK(dtype_ == expected, "tensor {} accessed as {}", str(), dtype_name(expected));
}

double Tensor::item() const {
  TIDE_CHECK(numel() == 1, "item() of tensor {}: expected exactly one element", str());
  return to_vector()[0];
}

std::vector<double> Tensor::to_vector() const {
  std::vector<double> out(static_cast<size_t>(numel()));
  visit_dtype(dtype_, [&]<class T>(T) {
    const T* p = data<T>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<double>(p[i]);
  });
  return out;
}

Tensor Tensor::reshape(Shape shape) const {
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < shape.ndim(); ++i) {
    if (shape[i] == -1) {
      TIDE_CHECK(infer < 0, "reshape of {} to {}: more than one -1", str(), shape.str());
      infer = i;
    } else {
      TIDE_CHECK(!__builtin_mul_overflow(known, shape[i], &known),
                 "cannot reshape tensor {} to {}: the sizes overflow", str(), shape.str());
    }
  }
  if (infer >= 0 && known > 0) shape[infer] = numel() / known;
  TIDE_CHECK(shape.numel() == numel(), "cannot reshape tensor {} to {}", str(), shape.str());
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::slice(int64_t begin, int64_t end) const {
  TIDE_CHECK(ndim() >= 1 && 0 <= begin && begin <= end && end <= dim(0),
             "slice [{}, {}) of tensor {} is out of range", begin, end, str());
  Tensor t = *this;
  t.shape_[0] = end - begin;
  t.offset_ += begin * (numel() / std::max<int64_t>(dim(0), 1));
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_, dtype_);
  std::memcpy(t.raw_data(), raw_data(), nbytes());
  return t;
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return clone();
  Tensor t = empty(shape_, dtype);
  const int64_t n = numel();
  visit_dtype(dtype_, [&]<class S>(S) {
    visit_dtype(dtype, [&]<class D>(D) {
      const S* src = data<S>();
      D* dst = t.data<D>();
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<D>(src[i]);
    });
  });
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  TIDE_CHECK(src.shape_ == shape_ && src.dtype_ == dtype_, "cannot copy tensor {} into {}",
             src.str(), str());
  std::memmove(raw_data(), src.raw_data(), nbytes());
}

void Tensor::fill(double value) {
  const int64_t n = numel();
  visit_dtype(dtype_, [&]<class T>(T) {
    T* p = data<T>();
    const T v = static_cast<T>(value);
    for (int64_t i = 0; i < n; ++i) p[i] = v;
  });
}

std::string Tensor::str() const {
  if (!defined()) return "undefined";
  return fmt::format("{}{}", dtype_name(dtype_), shape_.str());
}

void check_finite(const Tensor& t, std::string_view what) {
  if (t.dtype() == DType::i64) return;
  int64_t bad = 0, first = -1;
  double first_value = 0;
  visit_dtype(t.dtype(), [&]<class T>(T) {
    if constexpr (std::is_floating_point_v<T>) {
      const T* p = t.data<T>();
      for (int64_t i = 0, n = t.numel(); i < n; ++i)
        if (!std::isfinite(p[i])) {
          if (first < 0) first = i, first_value = static_cast<double>(p[i]);
          ++bad;
        }
    }
  });
  TIDE_CHECK(bad == 0, "{} {} holds {} non-finite value{} (the first, {}, at element {})", what,
             t.str(), bad, bad == 1 ? "" : "s", first_value, first);
}

}  // namespace tide
