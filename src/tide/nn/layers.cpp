#include "tide/nn/layers.hpp"

#include <cmath>

#include "tide/autograd/ops.hpp"
#include "tide/nn/conv_layers.hpp"
#include "tide/nn/init.hpp"
#include "tide/tensor/random.hpp"

namespace tide {

Linear::Linear(int64_t in_features, int64_t out_features, RngStream& rng, bool bias,
               LinearInit init)
    : in_features_(in_features), out_features_(out_features) {
  TIDE_CHECK(in_features > 0 && out_features > 0, "Linear({}, {}): sizes must be positive",
             in_features, out_features);
  const Shape w_shape{out_features, in_features};
  Tensor w;
  switch (init) {
    // PyTorch's kaiming_uniform_(a = sqrt 5) has gain sqrt(1/3): bound 1/sqrt(in).
    case LinearInit::torch_default:
      w = kaiming_uniform(w_shape, in_features, std::sqrt(1.0 / 3.0), rng);
      break;
    case LinearInit::kaiming:
      w = kaiming_uniform(w_shape, in_features, std::sqrt(2.0), rng);
      break;
    case LinearInit::xavier:
      w = xavier_uniform(w_shape, in_features, out_features, 1.0, rng);
      break;
  }
  weight_ = register_parameter("weight", std::move(w));
  if (bias) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
    bias_ = register_parameter("bias", init == LinearInit::torch_default
                                           ? uniform({out_features}, -bound, bound, rng)
                                           : Tensor::zeros({out_features}));
  }
}

Variable Linear::forward(const Variable& x) {
  return linear(x, weight_, bias_);
}

std::string Linear::describe() const {
  return fmt::format("Linear({}, {}{})", in_features_, out_features_,
                     bias_.defined() ? "" : ", bias=false");
}

Sequential& Sequential::add(std::shared_ptr<Module> module) {
  register_module(std::to_string(children().size()), std::move(module));
  return *this;
}

namespace {

// Conv2d, ReLU, MaxPool2d from child i on: the convolution and the pooling's options, or
// nulls. The three run as one op (conv2d_relu_maxpool) with the same values and gradients.
std::pair<Conv2d*, MaxPool2d*> conv_relu_pool_at(
    const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& kids, size_t i) {
  if (i + 2 >= kids.size()) return {nullptr, nullptr};
  auto* conv = dynamic_cast<Conv2d*>(kids[i].second.get());
  const bool relu = dynamic_cast<ReLU*>(kids[i + 1].second.get()) != nullptr;
  auto* pool = dynamic_cast<MaxPool2d*>(kids[i + 2].second.get());
  if (!conv || !relu || !pool) return {nullptr, nullptr};
  return {conv, pool};
}

}  // namespace

Variable Sequential::forward(const Variable& x) {
  Variable h = x;
  const auto& kids = children();
  for (size_t i = 0; i < kids.size(); ++i) {
    if (const auto [conv, pool] = conv_relu_pool_at(kids, i); conv) {
      h = conv->forward_relu_maxpool(h, pool->options());
      i += 2;
      continue;
    }
    h = kids[i].second->forward(h);
  }
  return h;
}

Concat& Concat::add(std::shared_ptr<Module> module) {
  register_module(std::to_string(children().size()), std::move(module));
  return *this;
}

Variable Concat::forward(const Variable& x) {
  TIDE_CHECK(!children().empty(), "Concat has no branches");
  std::vector<Variable> outs;
  for (const auto& [name, child] : children()) outs.push_back(child->forward(x));
  return concat(outs, dim_);
}

Variable Flatten::forward(const Variable& x) {
  return flatten(x, start_dim_);
}

ReLU::ReLU() : Activation("ReLU", [](const Variable& x) { return relu(x); }) {}

std::shared_ptr<Module> make_relu() {
  return std::make_shared<ReLU>();
}
std::shared_ptr<Module> make_sigmoid() {
  return std::make_shared<Activation>("Sigmoid", [](const Variable& x) { return sigmoid(x); });
}
std::shared_ptr<Module> make_tanh() {
  return std::make_shared<Activation>("Tanh", [](const Variable& x) { return tide::tanh(x); });
}

std::shared_ptr<Module> make_gelu() {
  return std::make_shared<Activation>("GELU", [](const Variable& x) { return gelu(x); });
}

}  // namespace tide
