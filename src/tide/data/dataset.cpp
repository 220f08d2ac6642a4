#include "tide/data/dataset.hpp"

#include <cstring>

namespace tide {

TensorDataset::TensorDataset(Tensor inputs, Tensor targets)
    : inputs_(std::move(inputs)), targets_(std::move(targets)) {
  TIDE_CHECK(inputs_.dtype() == DType::f32 && inputs_.ndim() >= 1,
             "dataset inputs must be f32 (N, ...), got {}", inputs_.str());
  TIDE_CHECK((targets_.dtype() == DType::i64 && targets_.ndim() == 1) ||
                 (targets_.dtype() == DType::f32 && targets_.ndim() == 2),
             "dataset targets must be labels i64 (N) or values f32 (N, T), got {}", targets_.str());
  TIDE_CHECK(inputs_.dim(0) == targets_.dim(0), "dataset has {} inputs but {} targets",
             inputs_.dim(0), targets_.dim(0));
}

Shape TensorDataset::sample_shape() const {
  return Shape(
      std::vector<int64_t>(inputs_.shape().dims().begin() + 1, inputs_.shape().dims().end()));
}

Tensor gather_rows(const Tensor& t, std::span<const int64_t> indices) {
  const int64_t n = t.dim(0), b = static_cast<int64_t>(indices.size());
  std::vector<int64_t> dims = t.shape().dims();
  dims[0] = b;
  Tensor out = Tensor::empty(Shape(dims), t.dtype());
  const size_t row = n > 0 ? static_cast<size_t>(t.numel() / n) * dtype_size(t.dtype()) : 0;
  const auto* src = static_cast<const char*>(t.raw_data());
  auto* dst = static_cast<char*>(out.raw_data());
  for (int64_t i = 0; i < b; ++i) {
    const int64_t k = indices[static_cast<size_t>(i)];
    TIDE_CHECK(k >= 0 && k < n, "example index {} is outside the dataset of {}", k, n);
    std::memcpy(dst + static_cast<size_t>(i) * row, src + static_cast<size_t>(k) * row, row);
  }
  return out;
}

Batch TensorDataset::get_batch(std::span<const int64_t> indices) const {
  return {gather_rows(inputs_, indices), gather_rows(targets_, indices)};
}

PrefixDataset::PrefixDataset(std::shared_ptr<Dataset> base, int64_t count)
    : base_(std::move(base)), count_(count) {
  TIDE_CHECK(count_ >= 1 && count_ <= base_->size(),
             "a subset of {} examples was asked of a dataset of {}", count_, base_->size());
}

Batch PrefixDataset::get_batch(std::span<const int64_t> indices) const {
  for (const int64_t k : indices)
    TIDE_CHECK(k >= 0 && k < count_, "example index {} is outside the dataset of {}", k, count_);
  return base_->get_batch(indices);
}

}  // namespace tide
