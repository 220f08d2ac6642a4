// Datasets: indexed collections of (input, label) examples, gathered into batches.
#pragma once

#include <algorithm>
#include <memory>
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

// Where the test split of one file of `rows` examples begins: its last fifth, at least one row.
inline int64_t held_out_start(int64_t rows) {
  return rows - std::max<int64_t>(1, rows / 5);
}

// The rows `indices` of t (N, ...) as a new (B, ...) tensor; throws on an index out of range.
Tensor gather_rows(const Tensor& t, std::span<const int64_t> indices);

// A dataset held in memory as two tensors: inputs f32 (N, ...) and targets, labels i64 (N)
// or values f32 (N, T).
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

// The first `count` examples of another dataset (a smaller training set, or the part of it
// that is evaluated). Throws when count is not in [1, base size].
class PrefixDataset : public Dataset {
 public:
  PrefixDataset(std::shared_ptr<Dataset> base, int64_t count);
  int64_t size() const override { return count_; }
  Shape sample_shape() const override { return base_->sample_shape(); }
  Batch get_batch(std::span<const int64_t> indices) const override;
  void set_epoch(int64_t epoch) override { base_->set_epoch(epoch); }

 private:
  std::shared_ptr<Dataset> base_;
  int64_t count_;
};

}  // namespace tide
