// Datasets: indexed collections of (input, label) examples, gathered into batches.
#pragma once

#include <span>

#include "tide/tensor/tensor.hpp"

namespace tide {

// inputs: f32 (B, ...sample dims); targets: i64 (B).
struct Batch {
  Tensor inputs;
  Tensor targets;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // The shape of one input, such as [1, 28, 28].
  virtual Shape sample_shape() const = 0;
  // Gathers the examples at `indices` into one batch; throws on an index out of range.
  virtual Batch get_batch(std::span<const int64_t> indices) const = 0;
  // Selects the epoch for datasets whose examples vary by epoch (random augmentation).
  virtual void set_epoch(int64_t epoch) {}
};

// A dataset held in memory as two tensors: inputs f32 (N, ...) and targets i64 (N).
class TensorDataset : public Dataset {
 public:
  TensorDataset(Tensor inputs, Tensor targets);
  int64_t size() const override { return inputs_.dim(0); }
  Shape sample_shape() const override;
  Batch get_batch(std::span<const int64_t> indices) const override;
  const Tensor& inputs() const { return inputs_; }
  const Tensor& targets() const { return targets_; }

 private:
  Tensor inputs_, targets_;
};

}  // namespace tide
