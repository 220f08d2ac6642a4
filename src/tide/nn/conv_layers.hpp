// Convolution and pooling layers, as torch.nn.Conv2d, MaxPool2d, AvgPool2d and
// AdaptiveAvgPool2d, over (N, C, H, W).
#pragma once

#include "tide/autograd/ops_conv.hpp"
#include "tide/autograd/ops_pool.hpp"
#include "tide/core/rng.hpp"
#include "tide/nn/layers.hpp"
#include "tide/nn/module.hpp"

namespace tide {

// weight (C_out, C_in / groups, KH, KW) and bias (C_out), initialised as PyTorch does:
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = C_in / groups * KH * KW.
class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, std::array<int64_t, 2> kernel, RngStream& rng,
         Conv2dOptions options = {}, bool bias = true);
  Variable forward(const Variable& x) override;
  // max_pool2d(relu(forward(x))) as one fused op, the stage fuse_conv_relu_maxpool gives a
  // Sequential for Conv2d, ReLU, MaxPool2d in a row.
  Variable forward_relu_maxpool(const Variable& x, const Pool2dOptions& pool);
  std::string describe() const override;
  const Variable& weight() const { return weight_; }
  const Variable& bias() const { return bias_; }
  const Conv2dOptions& options() const { return options_; }

 private:
  Conv2dOptions options_;
  Variable weight_, bias_;
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(Pool2dOptions options) : options_(options) {}
  Variable forward(const Variable& x) override { return max_pool2d(x, options_); }
  std::string describe() const override;
  const Pool2dOptions& options() const { return options_; }

 private:
  Pool2dOptions options_;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(Pool2dOptions options) : options_(options) {}
  Variable forward(const Variable& x) override { return avg_pool2d(x, options_); }
  std::string describe() const override;
  const Pool2dOptions& options() const { return options_; }

 private:
  Pool2dOptions options_;
};

class AdaptiveAvgPool2d : public Module {
 public:
  AdaptiveAvgPool2d(int64_t out_h, int64_t out_w) : out_h_(out_h), out_w_(out_w) {}
  Variable forward(const Variable& x) override { return adaptive_avg_pool2d(x, out_h_, out_w_); }
  std::string describe() const override;
  std::array<int64_t, 2> output_size() const { return {out_h_, out_w_}; }

 private:
  int64_t out_h_, out_w_;
};

// The fusion pass: in `root` and in every Sequential below it, each Conv2d, ReLU, MaxPool2d in
// a row that is not fused yet becomes one stage running Conv2d::forward_relu_maxpool (same
// values and gradients as the three one by one; the children and their parameter names stay).
// Call it once where a network is built. Returns how many stages it fused.
int fuse_conv_relu_maxpool(Module& root);

}  // namespace tide
