#include "tide/nn/norm_layers.hpp"

#include <algorithm>

#include "tide/autograd/ops.hpp"
#include "tide/tensor/random.hpp"

namespace tide {

LayerNorm::LayerNorm(Shape shape, double eps, bool affine) : shape_(std::move(shape)), eps_(eps) {
  TIDE_CHECK(shape_.ndim() >= 1 && shape_.numel() > 0, "LayerNorm over shape {}: must be non-empty",
             shape_.str());
  if (affine) {
    weight_ = register_parameter("weight", Tensor::full(shape_, 1.0));
    bias_ = register_parameter("bias", Tensor::zeros(shape_));
  }
}

Variable LayerNorm::forward(const Variable& x) {
  const Shape& s = x.shape();
  bool ok = s.ndim() >= shape_.ndim();
  for (int i = 1; ok && i <= shape_.ndim(); ++i) ok = s[-i] == shape_[-i];
  TIDE_CHECK(ok, "LayerNorm{}: input {} does not end in these dimensions", shape_.str(),
             x.value().str());
  return layer_norm(x, shape_.ndim(), weight_, bias_, eps_);
}

std::string LayerNorm::describe() const {
  return fmt::format("LayerNorm({})", shape_.str());
}

BatchNorm::BatchNorm(int64_t channels, double momentum, double eps, bool affine)
    : channels_(channels), momentum_(momentum), eps_(eps) {
  TIDE_CHECK(channels > 0, "BatchNorm({}): channels must be positive", channels);
  if (affine) {
    weight_ = register_parameter("weight", Tensor::full({channels}, 1.0));
    bias_ = register_parameter("bias", Tensor::zeros({channels}));
  }
  register_buffer("running_mean", Tensor::zeros({channels}));
  register_buffer("running_var", Tensor::full({channels}, 1.0));
  register_buffer("num_batches_tracked", Tensor::zeros({}, DType::i64));
}

Variable BatchNorm::forward(const Variable& x) {
  TIDE_CHECK(x.shape().ndim() >= 2 && x.shape()[1] == channels_,
             "BatchNorm({}): input {} does not have {} channels in dimension 1", channels_,
             x.value().str(), channels_);
  if (is_training()) buffer("num_batches_tracked").data<int64_t>()[0] += 1;
  return batch_norm(x, weight_, bias_, buffer("running_mean"), buffer("running_var"), is_training(),
                    momentum_, eps_);
}

std::string BatchNorm::describe() const {
  return fmt::format("BatchNorm({})", channels_);
}

Dropout::Dropout(double p, uint64_t seed, uint64_t id) : p_(p), masks_(seed, id) {
  TIDE_CHECK(p >= 0 && p < 1, "Dropout({}): the probability must be in [0, 1)", p);
}

void Dropout::begin_step(int64_t step) {
  masks_.begin_step(step);
  Module::begin_step(step);
}

Variable Dropout::forward(const Variable& x) {
  if (!is_training() || p_ == 0) return x;
  RngStream rng = masks_.next();
  return dropout(x, p_, rng);
}

std::string Dropout::describe() const {
  return fmt::format("Dropout({})", p_);
}

Embedding::Embedding(int64_t count, int64_t dim, RngStream& rng,
                     std::optional<int64_t> padding_idx) {
  TIDE_CHECK(count > 0 && dim > 0, "Embedding({}, {}): sizes must be positive", count, dim);
  if (padding_idx) {
    TIDE_CHECK(*padding_idx >= -count && *padding_idx < count,
               "Embedding({}, {}): padding_idx {} is outside the table", count, dim, *padding_idx);
    if (*padding_idx < 0) *padding_idx += count;
    padding_idx_ = padding_idx;
  }
  Tensor w = normal({count, dim}, 0.0, 1.0, rng);
  if (padding_idx_) {
    float* row = w.data<float>() + *padding_idx_ * dim;
    std::fill(row, row + dim, 0.0f);
  }
  weight_ = register_parameter("weight", w);
}

Variable Embedding::forward(const Variable& indices) {
  return embedding(weight_, indices.value(), padding_idx_);
}

std::string Embedding::describe() const {
  if (padding_idx_)
    return fmt::format("Embedding({}, {}, padding_idx={})", weight_.dim(0), weight_.dim(1),
                       *padding_idx_);
  return fmt::format("Embedding({}, {})", weight_.dim(0), weight_.dim(1));
}

}  // namespace tide
