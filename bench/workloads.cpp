#include "bench/workloads.hpp"

#include <fmt/format.h>

#include "tide/autograd/ops.hpp"
#include "tide/models/zoo.hpp"
#include "tide/nn/attention.hpp"
#include "tide/nn/norm_layers.hpp"
#include "tide/nn/recurrent.hpp"
#include "tide/tensor/random.hpp"

namespace tide::bench {
namespace {

Tensor random_labels(Shape shape, int64_t classes, RngStream& rng) {
  Tensor t = Tensor::empty(std::move(shape), DType::i64);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<int64_t>()[i] = static_cast<int64_t>(rng.below(static_cast<uint64_t>(classes)));
  return t;
}

// A model of `tide train` on a batch of random 1x28x28 images with random labels.
Workload classifier(const std::string& name, int64_t batch) {
  RngStream rng(0, RngPurpose::init), data(0, RngPurpose::data);
  auto model = make_model(name, {1, 28, 28}, 10, rng);
  const Variable x(normal({batch, 1, 28, 28}, 0.0, 1.0, data));
  const Tensor y = random_labels({batch}, 10, data);
  return {model, [model, x, y] { return cross_entropy((*model)(x), y); }};
}

// LSTM encoder (8 -> 64); its last hidden state repeated for every step feeds an LSTM
// decoder (64 -> 64) and a linear map back to 8 features.
class LstmAutoencoder : public Module {
 public:
  explicit LstmAutoencoder(RngStream& rng) {
    encoder_ = register_module(
        "encoder",
        std::make_shared<Recurrent>(
            RecurrentOptions{.kind = RecurrentKind::lstm, .input_size = 8, .hidden_size = 64},
            rng));
    decoder_ = register_module(
        "decoder",
        std::make_shared<Recurrent>(
            RecurrentOptions{.kind = RecurrentKind::lstm, .input_size = 64, .hidden_size = 64},
            rng));
    out_ = register_module("out", std::make_shared<Linear>(64, 8, rng));
  }
  Variable forward(const Variable& x) override {
    const int64_t b = x.dim(0), t = x.dim(1);
    const Variable h = reshape(encoder_->run(x).h_n, {b, 1, 64});
    const Variable repeated = concat(std::vector<Variable>(static_cast<size_t>(t), h), 1);
    return (*out_)(decoder_->run(repeated).output);
  }
  std::string describe() const override { return "LstmAutoencoder"; }

 private:
  std::shared_ptr<Recurrent> encoder_, decoder_;
  std::shared_ptr<Linear> out_;
};

Workload lstm_autoencoder() {
  RngStream rng(0, RngPurpose::init), data(0, RngPurpose::data);
  auto model = std::make_shared<LstmAutoencoder>(rng);
  const Variable x(normal({32, 64, 8}, 0.0, 1.0, data));
  return {model, [model, x] { return mse_loss((*model)(x), x); }};
}

// Token embedding (256 x 128) plus learned positions, two post-norm encoder layers (4 heads,
// feed-forward 512, no dropout), a linear map to the 256 tokens.
class TokenTransformer : public Module {
 public:
  explicit TokenTransformer(RngStream& rng) {
    embed_ = register_module("embed", std::make_shared<Embedding>(256, 128, rng));
    positions_ = register_parameter("positions", normal({64, 128}, 0.0, 0.02, rng));
    for (int i = 0; i < 2; ++i)
      layers_.push_back(register_module(
          fmt::format("layer{}", i),
          std::make_shared<TransformerEncoderLayer>(
              TransformerOptions{
                  .d_model = 128, .num_heads = 4, .dim_feedforward = 512, .dropout = 0},
              rng)));
    head_ = register_module("head", std::make_shared<Linear>(128, 256, rng));
  }
  Variable forward(const Variable& tokens) override {
    Variable h = (*embed_)(tokens) + positions_;
    for (const auto& layer : layers_) h = (*layer)(h);
    return (*head_)(h);
  }
  std::string describe() const override { return "TokenTransformer"; }

 private:
  std::shared_ptr<Embedding> embed_;
  Variable positions_;
  std::vector<std::shared_ptr<TransformerEncoderLayer>> layers_;
  std::shared_ptr<Linear> head_;
};

Workload token_transformer() {
  RngStream rng(0, RngPurpose::init), data(0, RngPurpose::data);
  auto model = std::make_shared<TokenTransformer>(rng);
  const Variable tokens(random_labels({32, 64}, 256, data));
  const Tensor targets = random_labels({32 * 64}, 256, data);
  return {model, [model, tokens, targets] {
            return cross_entropy(reshape((*model)(tokens), {32 * 64, 256}), targets);
          }};
}

}  // namespace

const std::map<std::string, std::function<Workload()>>& workloads() {
  static const std::map<std::string, std::function<Workload()>> table = {
      {"mlp-64", [] { return classifier("mlp", 64); }},
      {"mlp-256", [] { return classifier("mlp", 256); }},
      {"mlp-1024", [] { return classifier("mlp", 1024); }},
      {"cnn-64", [] { return classifier("cnn", 64); }},
      {"lstm-ae", lstm_autoencoder},
      {"transformer", token_transformer},
  };
  return table;
}

}  // namespace tide::bench
