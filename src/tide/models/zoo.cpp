#include "tide/models/zoo.hpp"

#include <functional>
#include <map>

#include <fmt/ranges.h>

#include "tide/autograd/ops.hpp"
#include "tide/nn/attention.hpp"
#include "tide/nn/conv_layers.hpp"
#include "tide/nn/layers.hpp"
#include "tide/nn/norm_layers.hpp"
#include "tide/nn/recurrent.hpp"
#include "tide/tensor/random.hpp"

namespace tide {
namespace {

using Builder =
    std::function<std::shared_ptr<Module>(const Shape&, int64_t, RngStream&, const ModelOptions&)>;
using K2 = std::array<int64_t, 2>;

void expect_image(const Shape& sample, const char* model) {
  TIDE_CHECK(sample.ndim() == 3, "{}: expects images (C, H, W), got samples of shape {}", model,
             sample.str());
}

std::shared_ptr<Module> mlp(const Shape& sample, int64_t classes, RngStream& rng,
                            const ModelOptions& o) {
  TIDE_CHECK(o.hidden > 0, "--hidden must be positive, got {}", o.hidden);
  auto m = std::make_shared<Sequential>();
  m->add(std::make_shared<Flatten>(1));
  int64_t in = sample.numel();
  for (uint64_t layer = 0; layer < 2; ++layer) {
    m->add(std::make_shared<Linear>(in, o.hidden, rng, !o.batch_norm, LinearInit::kaiming));
    if (o.batch_norm) m->add(std::make_shared<BatchNorm>(o.hidden));
    m->add(make_relu());
    if (o.dropout > 0) m->add(std::make_shared<Dropout>(o.dropout, o.seed, layer));
    in = o.hidden;
  }
  m->add(std::make_shared<Linear>(in, classes, rng));
  return m;
}

// Wraps a builder that has no options, so that it refuses any.
template <typename F>
Builder plain(const char* name, F build) {
  return [name, build](const Shape& s, int64_t c, RngStream& r,
                       const ModelOptions& o) -> std::shared_ptr<Module> {
    TIDE_CHECK(o.hidden == ModelOptions{}.hidden && o.dropout == 0 && !o.batch_norm,
               "--hidden, --dropout and --batch-norm shape the mlp; model {} has none of them",
               name);
    return build(s, c, r);
  };
}

// The cnn-64 network of the benchmarks.
std::shared_ptr<Module> cnn(const Shape& sample, int64_t classes, RngStream& rng) {
  expect_image(sample, "cnn");
  const Conv2dOptions same{.padding = {2, 2}};
  auto m = std::make_shared<Sequential>();
  m->add(std::make_shared<Conv2d>(sample[0], 32, K2{5, 5}, rng, same));
  m->add(make_relu());
  m->add(std::make_shared<MaxPool2d>(Pool2dOptions{}));
  m->add(std::make_shared<Conv2d>(32, 64, K2{5, 5}, rng, same));
  m->add(make_relu());
  m->add(std::make_shared<MaxPool2d>(Pool2dOptions{}));
  m->add(std::make_shared<Flatten>(1));
  m->add(std::make_shared<Linear>(64 * (sample[1] / 4) * (sample[2] / 4), 1024, rng, true,
                                  LinearInit::kaiming));
  m->add(make_relu());
  m->add(std::make_shared<Linear>(1024, classes, rng));
  fuse_conv_relu_maxpool(*m);  // children 0-2 and 3-5
  return m;
}

// conv - batch norm - ReLU.
std::shared_ptr<Module> conv_bn_relu(int64_t in, int64_t out, int64_t k, RngStream& rng) {
  auto m = std::make_shared<Sequential>();
  m->add(std::make_shared<Conv2d>(in, out, K2{k, k}, rng, Conv2dOptions{.padding = {k / 2, k / 2}},
                                  false));
  m->add(std::make_shared<BatchNorm>(out));
  m->add(make_relu());
  return m;
}

// An Inception block: 1x1, 3x3 and 5x5 convolutions and a pooled 1x1 side by side,
// concatenated along the channels.
std::shared_ptr<Module> inception_block(int64_t in, std::array<int64_t, 4> out, RngStream& rng) {
  auto pooled = std::make_shared<Sequential>();
  pooled->add(std::make_shared<MaxPool2d>(
      Pool2dOptions{.kernel = {3, 3}, .stride = {1, 1}, .padding = {1, 1}}));
  pooled->add(conv_bn_relu(in, out[3], 1, rng));
  auto block = std::make_shared<Concat>(1);
  block->add(conv_bn_relu(in, out[0], 1, rng));
  block->add(conv_bn_relu(in, out[1], 3, rng));
  block->add(conv_bn_relu(in, out[2], 5, rng));
  block->add(pooled);
  return block;
}

std::shared_ptr<Module> inception(const Shape& sample, int64_t classes, RngStream& rng) {
  expect_image(sample, "inception");
  auto m = std::make_shared<Sequential>();
  m->add(conv_bn_relu(sample[0], 32, 3, rng));
  m->add(std::make_shared<MaxPool2d>(Pool2dOptions{}));
  m->add(inception_block(32, {16, 24, 8, 8}, rng));  // 56 channels
  m->add(std::make_shared<MaxPool2d>(Pool2dOptions{}));
  m->add(inception_block(56, {32, 48, 16, 16}, rng));  // 112 channels
  m->add(std::make_shared<AdaptiveAvgPool2d>(1, 1));
  m->add(std::make_shared<Flatten>(1));
  m->add(std::make_shared<Linear>(112, classes, rng));
  // Finds nothing today: its convolutions are followed by batch norm, and its poolings follow
  // a Sequential. Called so that a Conv2d, ReLU, MaxPool2d added later runs fused.
  fuse_conv_relu_maxpool(*m);
  return m;
}

// Reads an image (C, H, W) row by row as a sequence of H steps of C * W features, and
// classifies from the last layer's final hidden state.
class RowSequenceClassifier : public Module {
 public:
  RowSequenceClassifier(RecurrentKind kind, const Shape& sample, int64_t classes, RngStream& rng)
      : rows_(sample[1]), features_(sample[0] * sample[2]) {
    rnn_ = register_module(
        "rnn", std::make_shared<Recurrent>(
                   RecurrentOptions{
                       .kind = kind, .input_size = features_, .hidden_size = 128, .num_layers = 1},
                   rng));
    head_ = register_module("head", std::make_shared<Linear>(128, classes, rng));
  }
  Variable forward(const Variable& x) override {
    // (N, C, H, W) -> (N, H, C, W) -> (N, H, C * W): row t holds every channel of row t.
    const Variable seq = reshape(permute(x, {0, 2, 1, 3}), {x.dim(0), rows_, features_});
    const Variable h = rnn_->run(seq).h_n;  // (1, N, 128)
    return (*head_)(reshape(h, {h.dim(1), h.dim(2)}));
  }
  std::string describe() const override { return "RowSequenceClassifier"; }

 private:
  int64_t rows_, features_;
  std::shared_ptr<Recurrent> rnn_;
  std::shared_ptr<Linear> head_;
};

// Rows as tokens: a linear embedding plus learned positions, two post-norm encoder layers,
// the mean over tokens, a linear classifier.
class RowTransformer : public Module {
 public:
  RowTransformer(const Shape& sample, int64_t classes, RngStream& rng)
      : rows_(sample[1]), features_(sample[0] * sample[2]) {
    constexpr int64_t kWidth = 64;
    embed_ = register_module("embed", std::make_shared<Linear>(features_, kWidth, rng));
    positions_ = register_parameter("positions", normal({rows_, kWidth}, 0.0, 0.02, rng));
    for (int64_t i = 0; i < 2; ++i)
      layers_.push_back(register_module(fmt::format("layer{}", i),
                                        std::make_shared<TransformerEncoderLayer>(
                                            TransformerOptions{.d_model = kWidth,
                                                               .num_heads = 4,
                                                               .dim_feedforward = 128,
                                                               .dropout = 0.1,
                                                               .seed = rng.next_u32(),
                                                               .id = static_cast<uint64_t>(i)},
                                            rng)));
    head_ = register_module("head", std::make_shared<Linear>(kWidth, classes, rng));
  }
  Variable forward(const Variable& x) override {
    const Variable seq = reshape(permute(x, {0, 2, 1, 3}), {x.dim(0), rows_, features_});
    Variable h = (*embed_)(seq) + positions_;
    for (const auto& layer : layers_) h = (*layer)(h);
    return (*head_)(mean(h, 1));
  }
  std::string describe() const override { return "RowTransformer"; }

 private:
  int64_t rows_, features_;
  std::shared_ptr<Linear> embed_, head_;
  Variable positions_;
  std::vector<std::shared_ptr<TransformerEncoderLayer>> layers_;
};

std::shared_ptr<Module> sequence_model(RecurrentKind kind, const Shape& sample, int64_t classes,
                                       RngStream& rng) {
  expect_image(sample, "lstm/gru");
  return std::make_shared<RowSequenceClassifier>(kind, sample, classes, rng);
}

const std::map<std::string, Builder>& builders() {
  static const std::map<std::string, Builder> table = {
      {"mlp", mlp},
      {"cnn", plain("cnn", cnn)},
      {"inception", plain("inception", inception)},
      {"lstm",
       plain("lstm", [](const Shape& s, int64_t c,
                        RngStream& r) { return sequence_model(RecurrentKind::lstm, s, c, r); })},
      {"gru",
       plain("gru", [](const Shape& s, int64_t c,
                       RngStream& r) { return sequence_model(RecurrentKind::gru, s, c, r); })},
      {"transformer", plain("transformer",
                            [](const Shape& s, int64_t c, RngStream& r) -> std::shared_ptr<Module> {
                              expect_image(s, "transformer");
                              return std::make_shared<RowTransformer>(s, c, r);
                            })},
  };
  return table;
}

}  // namespace

std::shared_ptr<Module> make_model(const std::string& name, const Shape& sample_shape,
                                   int64_t classes, RngStream& rng, const ModelOptions& options) {
  const auto it = builders().find(name);
  TIDE_CHECK(it != builders().end(), "unknown model '{}'; known models: {}", name,
             fmt::join(model_names(), ", "));
  TIDE_CHECK(options.dropout >= 0 && options.dropout < 1, "--dropout must be in [0, 1), got {}",
             options.dropout);
  return it->second(sample_shape, classes, rng, options);
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& [name, b] : builders()) names.push_back(name);
  return names;
}

}  // namespace tide
