#include "tide/nn/layers.hpp"

#include <cmath>

#include <fmt/ranges.h>

#include "tide/autograd/ops.hpp"
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
  return add(std::to_string(children().size()), std::move(module));
}

Sequential& Sequential::add(std::string name, std::shared_ptr<Module> module) {
  const size_t index = children().size();
  plan_.push_back(Stage{.first = index, .count = 1, .op = {}, .run = [module](const Variable& x) {
                          return module->forward(x);
                        }});
  register_module(std::move(name), std::move(module));
  return *this;
}

Sequential& Sequential::add_parameter(std::string name, Tensor value) {
  const Variable p = register_parameter(name, std::move(value));
  // A stage of no children: it sits before the next child's stage and is never fused.
  plan_.push_back(Stage{
      .first = children().size(), .count = 0, .op = "+" + name, .run = [p](const Variable& x) {
        return x + p;
      }});
  return *this;
}

bool Sequential::is_fused(size_t index) const {
  for (const Stage& s : plan_)
    if (index >= s.first && index < s.first + s.count) return s.count > 1;
  return false;
}

void Sequential::fuse(size_t first, size_t count, std::string op,
                      std::function<Variable(const Variable&)> run) {
  TIDE_CHECK(count >= 2 && first + count <= size() && run,
             "Sequential::fuse: {} children from child {} of {}: a fused stage needs a function "
             "and two or more children that exist",
             count, first, size());
  for (size_t i = first; i < first + count; ++i)
    TIDE_CHECK(!is_fused(i), "Sequential::fuse: child {} already runs fused", i);
  // No child of the run is fused, so each has a stage of its own: the run is the `count`
  // stages from child `first`'s on.
  auto begin = plan_.begin();
  while (begin->first != first || begin->count == 0) ++begin;
  const auto at = plan_.erase(begin, begin + static_cast<std::ptrdiff_t>(count));
  plan_.insert(at,
               Stage{.first = first, .count = count, .op = std::move(op), .run = std::move(run)});
}

Variable Sequential::forward(const Variable& x) {
  Variable h = x;
  for (const Stage& stage : plan_) h = stage.run(h);
  return h;
}

std::string Sequential::describe() const {
  std::vector<std::string> fused;
  for (const Stage& s : plan_)
    if (s.count > 1) fused.push_back(fmt::format("{}-{} {}", s.first, s.first + s.count - 1, s.op));
  return fused.empty() ? "Sequential"
                       : fmt::format("Sequential(fused: {})", fmt::join(fused, ", "));
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

std::string Flatten::describe() const {
  return start_dim_ == 1 ? "Flatten" : fmt::format("Flatten(from {})", start_dim_);
}

Sum& Sum::add(std::shared_ptr<Module> module) {
  register_module(std::to_string(children().size()), std::move(module));
  return *this;
}

Variable Sum::forward(const Variable& x) {
  TIDE_CHECK(!children().empty(), "Sum has no branches");
  Variable total;
  for (const auto& [name, child] : children()) {
    const Variable y = child->forward(x);
    TIDE_CHECK(!total.defined() || y.shape() == total.shape(),
               "Sum: branch {} gives {}, branch 0 gives {}; the branches must agree", name,
               y.shape().str(), total.shape().str());
    total = total.defined() ? total + y : y;
  }
  return total;
}

Variable Mean::forward(const Variable& x) {
  return mean(x, dim_);
}

Variable Permute::forward(const Variable& x) {
  return permute(x, dims_);
}

std::string Permute::describe() const {
  return fmt::format("Permute({})", fmt::join(dims_, ", "));
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
