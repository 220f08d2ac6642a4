// Arrays of numbers in the files Python tools write, NumPy's .npy and safetensors, mapped into
// memory rather than read: only the pages a batch touches are read, so a file larger than
// memory can be trained on.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "tide/core/read_file.hpp"
#include "tide/data/dataset.hpp"

namespace tide {

// The element types of both formats that hold numbers (NumPy: <f2 <f4 <f8 |b1 |u1 |i1 <u2 <i2
// <u4 <i4 <u8 <i8; safetensors also BF16).
enum class ElementType { f16, bf16, f32, f64, boolean, u8, i8, u16, i16, u32, i32, u64, i64 };

int64_t element_bytes(ElementType t);

// One array of a mapped file: row-major little-endian elements of `type` and `shape`.
struct MappedArray {
  std::string source;  // "x.npy", or "data.safetensors: tensor 'x_train'", for errors
  ElementType type = ElementType::f32;
  Shape shape;
  const char* data = nullptr;
  std::shared_ptr<const MappedFile> file;  // keeps `data` mapped

  int64_t rows() const { return shape.ndim() == 0 ? 1 : shape[0]; }
  // The elements of one row: the product of the dimensions after the first.
  int64_t row_elements() const;
  // Elements [first, first + count) converted to T (float or double) at out.
  template <class T>
  void convert(T* out, int64_t first, int64_t count) const;
};

// The array of a .npy file (format versions 1 to 3, C order). Throws naming the file, the
// byte and what was expected: a bad magic string or version, a header that is not NumPy's
// dictionary, an element type that is not a number (or big-endian, or structured), Fortran
// order, a shape that does not match the bytes the file holds.
MappedArray open_npy(const std::string& path);

// The arrays of a safetensors file, by tensor name, checked as read_safetensors_header does.
std::map<std::string, MappedArray> open_safetensors_arrays(const std::string& path);

// The rows [begin, end) of mapped inputs (N, ...), as f32 batches, and their targets: labels
// i64 (end - begin) or values f32 (end - begin, T), in memory.
class ArrayDataset : public Dataset {
 public:
  ArrayDataset(MappedArray inputs, int64_t begin, int64_t end, Tensor targets);
  int64_t size() const override { return end_ - begin_; }
  Shape sample_shape() const override;
  Batch get_batch(std::span<const int64_t> indices) const override;
  const MappedArray& inputs() const { return inputs_; }
  // The rows will be drawn in a shuffled order (a training split): the kernel is told to
  // read only the pages touched (MappedFile::expect_random_access).
  void expect_shuffled_access() const;

 private:
  MappedArray inputs_;
  int64_t begin_, end_;
  Tensor targets_;
};

}  // namespace tide
