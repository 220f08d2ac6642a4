// Tensor: a dtype, a shape and row-major contiguous storage shared by reference count.
//
// A Tensor is a value type and cheap to copy: copies share storage. reshape() and slice()
// (along the first dimension) return views of the same storage; everything else that
// produces a tensor allocates a new one.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tide/core/dtype.hpp"
#include "tide/core/error.hpp"
#include "tide/core/shape.hpp"

namespace tide {

// A block of memory from allocate_bytes(), freed when the last tensor using it goes.
class Storage {
 public:
  explicit Storage(size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }

 private:
  void* data_;
  size_t bytes_;
};

class Tensor {
 public:
  // An undefined tensor: no storage, defined() is false.
  Tensor() = default;

  // Uninitialised contents.
  static Tensor empty(Shape shape, DType dtype = DType::f32);
  static Tensor zeros(Shape shape, DType dtype = DType::f32);
  static Tensor full(Shape shape, double value, DType dtype = DType::f32);
  // Copies `values` (numel must match the shape).
  template <class T>
  static Tensor from(Shape shape, std::span<const T> values);
  template <class T>
  static Tensor from(Shape shape, const std::vector<T>& values) {
    return from<T>(std::move(shape), std::span<const T>(values));
  }
  static Tensor scalar(double value, DType dtype = DType::f32) { return full({}, value, dtype); }

  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return shape_.ndim(); }
  int64_t dim(int i) const { return shape_[i]; }
  int64_t numel() const { return shape_.numel(); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }

  // Typed pointer to the first element; throws if T does not match the dtype.
  template <class T>
  T* data() const {
    check_dtype(dtype_of<T>());
    return static_cast<T*>(raw_data());
  }
  void* raw_data() const;

  // The single value of a one-element tensor, converted to double.
  double item() const;
  // All values converted to double (for tests and small reports).
  std::vector<double> to_vector() const;

  // A view with a new shape of the same numel; one dimension may be -1 (inferred).
  Tensor reshape(Shape shape) const;
  // A view of rows [begin, end) along the first dimension.
  Tensor slice(int64_t begin, int64_t end) const;
  // A copy with its own storage.
  Tensor clone() const;
  // A copy converted to another dtype.
  Tensor to(DType dtype) const;
  // Copies the values of `src` (same shape and dtype) into this tensor's storage.
  void copy_from(const Tensor& src);
  void fill(double value);

  bool same_storage(const Tensor& other) const { return storage_ == other.storage_; }
  // Whether this tensor is the only holder of its storage (no copies, no views): then
  // writing into it changes nothing anyone else sees.
  bool sole_owner() const { return storage_ != nullptr && storage_.use_count() == 1; }
  // "f32[64, 784]"
  std::string str() const;

 private:
  void check_dtype(DType expected) const;

  std::shared_ptr<Storage> storage_;
  int64_t offset_ = 0;  // in elements
  Shape shape_;
  DType dtype_ = DType::f32;
};

// Throws tide::Error unless every element of a floating-point tensor is finite; the message
// starts with `what` (a file and tensor name, say) and gives the count of NaN and infinite
// values and the index of the first. Integer tensors always pass.
void check_finite(const Tensor& t, std::string_view what);

}  // namespace tide
