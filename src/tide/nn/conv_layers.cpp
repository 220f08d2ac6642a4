#include "tide/nn/conv_layers.hpp"

#include <cmath>

#include "tide/nn/init.hpp"
#include "tide/tensor/random.hpp"

namespace tide {

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, std::array<int64_t, 2> kernel,
               RngStream& rng, Conv2dOptions options, bool bias)
    : options_(options) {
  TIDE_CHECK(in_channels > 0 && out_channels > 0 && kernel[0] > 0 && kernel[1] > 0 &&
                 options.groups > 0 && in_channels % options.groups == 0 &&
                 out_channels % options.groups == 0,
             "Conv2d({}, {}, {}x{}, groups {}): sizes must be positive and the channels "
             "divisible by the groups",
             in_channels, out_channels, kernel[0], kernel[1], options.groups);
  const int64_t fan_in = in_channels / options.groups * kernel[0] * kernel[1];
  // PyTorch's kaiming_uniform_(a = sqrt 5): gain sqrt(1/3), bound 1/sqrt(fan_in).
  weight_ = register_parameter(
      "weight", kaiming_uniform({out_channels, in_channels / options.groups, kernel[0], kernel[1]},
                                fan_in, std::sqrt(1.0 / 3.0), rng));
  if (bias) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    bias_ = register_parameter("bias", uniform({out_channels}, -bound, bound, rng));
  }
}

Variable Conv2d::forward(const Variable& x) {
  return conv2d(x, weight_, bias_, options_);
}

Variable Conv2d::forward_relu_maxpool(const Variable& x, const Pool2dOptions& pool) {
  return conv2d_relu_maxpool(x, weight_, bias_, options_, pool);
}

std::string Conv2d::describe() const {
  const Shape& w = weight_.shape();
  const PaddingMode mode = options_.padding_mode;
  return fmt::format("Conv2d({}, {}, kernel {}x{}, stride {}x{}, padding {}x{}{}{}{})",
                     w[1] * options_.groups, w[0], w[2], w[3], options_.stride[0],
                     options_.stride[1], options_.padding[0], options_.padding[1],
                     mode == PaddingMode::zeros ? "" : fmt::format(" {}", padding_mode_name(mode)),
                     options_.groups > 1 ? fmt::format(", groups {}", options_.groups) : "",
                     bias_.defined() ? "" : ", bias=false");
}

namespace {
// The options PyTorch's defaults leave out are named only when set.
std::string describe_pool(const char* name, const Pool2dOptions& o) {
  std::string extra;
  if (o.dilation != std::array<int64_t, 2>{1, 1})
    extra += fmt::format(", dilation {}x{}", o.dilation[0], o.dilation[1]);
  if (o.ceil_mode) extra += ", ceil_mode";
  if (!o.count_include_pad) extra += ", count_include_pad=false";
  return fmt::format("{}(kernel {}x{}, stride {}x{}, padding {}x{}{})", name, o.kernel[0],
                     o.kernel[1], o.stride[0] > 0 ? o.stride[0] : o.kernel[0],
                     o.stride[1] > 0 ? o.stride[1] : o.kernel[1], o.padding[0], o.padding[1],
                     extra);
}
}  // namespace

std::string MaxPool2d::describe() const {
  return describe_pool("MaxPool2d", options_);
}
std::string AvgPool2d::describe() const {
  return describe_pool("AvgPool2d", options_);
}
std::string AdaptiveAvgPool2d::describe() const {
  return fmt::format("AdaptiveAvgPool2d({}x{})", out_h_, out_w_);
}

namespace {

int fuse_in(Sequential& seq) {
  int fused = 0;
  const auto& kids = seq.children();
  for (size_t i = 0; i + 2 < kids.size(); ++i) {
    auto conv = std::dynamic_pointer_cast<Conv2d>(kids[i].second);
    const bool relu = dynamic_cast<const ReLU*>(kids[i + 1].second.get()) != nullptr;
    const auto* pool = dynamic_cast<const MaxPool2d*>(kids[i + 2].second.get());
    if (!conv || !relu || !pool || seq.is_fused(i) || seq.is_fused(i + 1) || seq.is_fused(i + 2))
      continue;
    // MaxPool2d's options cannot change after construction, so a copy taken now stays right.
    seq.fuse(i, 3, "conv2d_relu_maxpool", [conv, options = pool->options()](const Variable& x) {
      return conv->forward_relu_maxpool(x, options);
    });
    ++fused;
    i += 2;
  }
  return fused;
}

}  // namespace

int fuse_conv_relu_maxpool(Module& root) {
  int fused = 0;
  if (auto* seq = dynamic_cast<Sequential*>(&root)) fused += fuse_in(*seq);
  for (const auto& [name, child] : root.children()) fused += fuse_conv_relu_maxpool(*child);
  return fused;
}

}  // namespace tide
