#include "tide/models/autoencoder.hpp"

#include <fmt/format.h>

#include "tide/autograd/ops.hpp"

namespace tide {

LstmAutoencoder::LstmAutoencoder(AutoencoderOptions options, RngStream& rng)
    : options_(std::move(options)) {
  TIDE_CHECK(options_.hidden >= 1, "--hidden must be positive, got {}", options_.hidden);
  TIDE_CHECK(options_.latent >= 1, "--latent must be positive, got {}", options_.latent);
  TIDE_CHECK(options_.layers >= 1, "--layers must be positive, got {}", options_.layers);
  TIDE_CHECK(options_.code == "pooled" || options_.code == "last",
             "--code must be pooled or last, got '{}'", options_.code);
  const auto lstm = [&](int64_t input) {
    return std::make_shared<Recurrent>(RecurrentOptions{.kind = RecurrentKind::lstm,
                                                        .input_size = input,
                                                        .hidden_size = options_.hidden,
                                                        .num_layers = options_.layers},
                                       rng);
  };
  encoder_ = register_module("encoder", lstm(1));
  to_code_ =
      register_module("to_code", std::make_shared<Linear>(options_.hidden, options_.latent, rng));
  decoder_ = register_module("decoder", lstm(options_.latent));
  output_ = register_module("output", std::make_shared<Linear>(options_.hidden, 1, rng));
}

Variable LstmAutoencoder::encode(const Variable& x) {
  TIDE_CHECK(x.shape().ndim() == 3 && x.dim(2) == 1,
             "the autoencoder takes windows [batch, length, 1], got {}", x.shape().str());
  const RecurrentOutput r = encoder_->run(x);
  if (options_.code == "pooled") return (*to_code_)(mean(r.output, 1));
  const int64_t layers = options_.layers;
  const Variable last = reshape(slice(r.h_n, 0, layers - 1, layers), {x.dim(0), options_.hidden});
  return (*to_code_)(last);
}

Variable LstmAutoencoder::decode(const Variable& code, int64_t length) {
  const int64_t b = code.dim(0), d = code.dim(1);
  // The code at every step: (B, 1, D) broadcast over (B, T, D).
  const Variable repeated =
      reshape(code, {b, 1, d}) + Variable(Tensor::zeros({b, length, d}, code.dtype()));
  return (*output_)(decoder_->run(repeated).output);
}

std::string LstmAutoencoder::describe() const {
  return fmt::format("LstmAutoencoder(hidden={}, latent={}, layers={}, code={})", options_.hidden,
                     options_.latent, options_.layers, options_.code);
}

}  // namespace tide
