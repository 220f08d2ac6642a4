// Normalisation, dropout and embedding layers: torch.nn.LayerNorm, BatchNorm1d/2d, Dropout,
// Embedding, with PyTorch's parameter and buffer names.
#pragma once

#include <optional>

#include "tide/core/rng.hpp"
#include "tide/nn/module.hpp"

namespace tide {

// Normalises over the trailing dimensions `shape`, with weight (ones) and bias (zeros).
class LayerNorm : public Module {
 public:
  explicit LayerNorm(Shape shape, double eps = 1e-5, bool affine = true);
  Variable forward(const Variable& x) override;
  std::string describe() const override;
  const Shape& normalized_shape() const { return shape_; }
  double eps() const { return eps_; }

 private:
  Shape shape_;
  double eps_;
  Variable weight_, bias_;
};

// Per-channel normalisation of (N, C) or (N, C, H, W): BatchNorm1d and BatchNorm2d in one.
// Buffers running_mean (zeros), running_var (ones) and num_batches_tracked, as PyTorch.
class BatchNorm : public Module {
 public:
  explicit BatchNorm(int64_t channels, double momentum = 0.1, double eps = 1e-5,
                     bool affine = true);
  Variable forward(const Variable& x) override;
  std::string describe() const override;
  double momentum() const { return momentum_; }
  double eps() const { return eps_; }

 private:
  int64_t channels_;
  double momentum_, eps_;
  Variable weight_, bias_;
};

// Active only in training mode. The mask of the k-th call in step s comes from
// RngStream(seed, dropout, {id, s, k}); begin_step() sets s.
class Dropout : public Module {
 public:
  Dropout(double p, uint64_t seed, uint64_t id);
  Variable forward(const Variable& x) override;
  std::string describe() const override;
  double p() const { return p_; }
  void begin_step(int64_t step) override;

 private:
  double p_;
  DropoutStreams masks_;
};

// A table of `count` vectors of size `dim`, initialised N(0, 1) as PyTorch. forward takes
// i64 indices (as a Variable's value) and returns (indices..., dim). With padding_idx
// (negative counts from the end), that row starts at zero and receives no gradient, as
// torch.nn.Embedding(padding_idx=k).
class Embedding : public Module {
 public:
  Embedding(int64_t count, int64_t dim, RngStream& rng,
            std::optional<int64_t> padding_idx = std::nullopt);
  Variable forward(const Variable& indices) override;
  std::string describe() const override;
  const Variable& weight() const { return weight_; }

 private:
  Variable weight_;
  std::optional<int64_t> padding_idx_;
};

}  // namespace tide
