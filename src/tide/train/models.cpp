#include "tide/train/models.hpp"

#include <functional>
#include <map>

#include <fmt/ranges.h>

#include "tide/nn/conv_layers.hpp"
#include "tide/nn/layers.hpp"

namespace tide {
namespace {

using Builder = std::function<std::shared_ptr<Module>(const Shape&, int64_t, RngStream&)>;

std::shared_ptr<Module> mlp(const Shape& sample, int64_t classes, RngStream& rng) {
  auto m = std::make_shared<Sequential>();
  m->add(std::make_shared<Flatten>(1));
  m->add(std::make_shared<Linear>(sample.numel(), 1024, rng, true, LinearInit::kaiming));
  m->add(make_relu());
  m->add(std::make_shared<Linear>(1024, 1024, rng, true, LinearInit::kaiming));
  m->add(make_relu());
  m->add(std::make_shared<Linear>(1024, classes, rng));
  return m;
}

// The cnn-64 network of the benchmarks: two 5x5 convolutions with pooling, then two
// fully connected layers.
std::shared_ptr<Module> cnn(const Shape& sample, int64_t classes, RngStream& rng) {
  TIDE_CHECK(sample.ndim() == 3, "cnn: expects images (C, H, W), got samples of shape {}",
             sample.str());
  const Conv2dOptions same{.padding = {2, 2}};
  auto m = std::make_shared<Sequential>();
  m->add(std::make_shared<Conv2d>(sample[0], 32, std::array<int64_t, 2>{5, 5}, rng, same));
  m->add(make_relu());
  m->add(std::make_shared<MaxPool2d>(Pool2dOptions{}));
  m->add(std::make_shared<Conv2d>(32, 64, std::array<int64_t, 2>{5, 5}, rng, same));
  m->add(make_relu());
  m->add(std::make_shared<MaxPool2d>(Pool2dOptions{}));
  m->add(std::make_shared<Flatten>(1));
  m->add(std::make_shared<Linear>(64 * (sample[1] / 4) * (sample[2] / 4), 1024, rng, true,
                                  LinearInit::kaiming));
  m->add(make_relu());
  m->add(std::make_shared<Linear>(1024, classes, rng));
  return m;
}

const std::map<std::string, Builder>& builders() {
  static const std::map<std::string, Builder> table = {{"mlp", mlp}, {"cnn", cnn}};
  return table;
}

}  // namespace

std::shared_ptr<Module> make_model(const std::string& name, const Shape& sample_shape,
                                   int64_t classes, RngStream& rng) {
  const auto it = builders().find(name);
  TIDE_CHECK(it != builders().end(), "unknown model '{}'; known models: {}", name,
             fmt::join(model_names(), ", "));
  return it->second(sample_shape, classes, rng);
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& [name, b] : builders()) names.push_back(name);
  return names;
}

}  // namespace tide
