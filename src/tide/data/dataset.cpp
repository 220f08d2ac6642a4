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

Batch TensorDataset::get_batch(std::span<const int64_t> indices) const {
  const int64_t b = static_cast<int64_t>(indices.size());
  std::vector<int64_t> dims = inputs_.shape().dims(), target_dims = targets_.shape().dims();
  dims[0] = b;
  target_dims[0] = b;
  Batch batch{Tensor::empty(Shape(dims)), Tensor::empty(Shape(target_dims), targets_.dtype())};
  const int64_t row = size() > 0 ? inputs_.numel() / size() : 0;
  // Targets are labels (i64, one per example) or values (f32, one or more per example).
  const size_t target_row =
      size() > 0 ? static_cast<size_t>(targets_.numel() / size()) * dtype_size(targets_.dtype())
                 : 0;
  const float* src = inputs_.data<float>();
  float* dst = batch.inputs.data<float>();
  const auto* target_src = static_cast<const char*>(targets_.raw_data());
  auto* target_dst = static_cast<char*>(batch.targets.raw_data());
  for (int64_t i = 0; i < b; ++i) {
    const int64_t k = indices[static_cast<size_t>(i)];
    TIDE_CHECK(k >= 0 && k < size(), "example index {} is outside the dataset of {}", k, size());
    std::memcpy(dst + i * row, src + k * row, static_cast<size_t>(row) * sizeof(float));
    std::memcpy(target_dst + static_cast<size_t>(i) * target_row,
                target_src + static_cast<size_t>(k) * target_row, target_row);
  }
  return batch;
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
