// The LSTM autoencoder against the PyTorch module of bench/timeseries_reference.py (fixtures
// written by tests/fixtures/generate.py): code, reconstruction, loss and every gradient, for
// both codes (the last state and the states pooled over time), with 2 LSTM layers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"
#include "tide/autograd/ops.hpp"
#include "tide/models/autoencoder.hpp"
#include "tide/tensor/safetensors.hpp"

namespace tide {
namespace {

using testing::error_of;
using testing::expect_close;
using ::testing::HasSubstr;

class AutoencoderTest : public ::testing::TestWithParam<std::string> {};

TEST_P(AutoencoderTest, MatchesPyTorch) {
  const std::string code = GetParam();
  const TensorMap fx =
      load_safetensors(std::string(TIDE_SOURCE_DIR) + "/tests/fixtures/modules/autoencoder_" +
                       code + ".safetensors");
  RngStream rng(0, RngPurpose::init);
  LstmAutoencoder m({.hidden = 6, .latent = 3, .layers = 2, .code = code}, rng);
  TensorMap params;
  for (const auto& [k, t] : fx)
    if (k.starts_with("param.")) params.emplace(k.substr(6), t);
  m.load_state_dict(params);  // every name matches PyTorch's, none missing

  Variable x(fx.at("x").clone(), true);
  expect_close(m.encode(x).value(), fx.at("code"), "code", 2e-5);
  const Variable out = m(x);
  expect_close(out.value(), fx.at("output"), "output", 2e-5);
  const Variable loss = mse_loss(out, x);
  EXPECT_NEAR(loss.value().item(), fx.at("loss").item(), 2e-6);
  x.zero_grad();
  loss.backward();
  expect_close(x.grad(), fx.at("grad_x"), "grad x", 2e-5);
  for (const auto& [name, p] : m.named_parameters())
    expect_close(p.grad(), fx.at("grad." + name), "grad " + name, 2e-5);
}

INSTANTIATE_TEST_SUITE_P(Codes, AutoencoderTest, ::testing::Values("last", "pooled"));

TEST(Autoencoder, ChecksItsOptionsAndInput) {
  RngStream rng(0, RngPurpose::init);
  EXPECT_THAT(error_of([&] { LstmAutoencoder({.code = "max"}, rng); }), HasSubstr("--code"));
  EXPECT_THAT(error_of([&] { LstmAutoencoder({.latent = 0}, rng); }), HasSubstr("--latent"));
  LstmAutoencoder m({.hidden = 4, .latent = 2}, rng);
  EXPECT_THAT(error_of([&] {
                m.encode(Variable(Tensor::zeros({2, 5, 3})));
              }),
              HasSubstr("windows [batch, length, 1], got [2, 5, 3]"));
  EXPECT_EQ(m(Variable(Tensor::zeros({2, 5, 1}))).shape(), (Shape{2, 5, 1}));
}

}  // namespace
}  // namespace tide
