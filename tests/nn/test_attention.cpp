// Multi-head attention (with causal and key-padding masks, and cross-attention) and the
// Transformer encoder layer (post-norm ReLU, pre-norm GELU) against PyTorch: outputs and the
// gradients of inputs and every parameter.
#include <cmath>

#include <gtest/gtest.h>

#include "support/testing.hpp"

#include "tide/autograd/ops.hpp"
#include "tide/nn/attention.hpp"

namespace tide {
namespace {

using testing::expect_close;

struct Fixture {
  TensorMap all, params;
  explicit Fixture(const std::string& name) {
    all = load_safetensors(std::string(TIDE_SOURCE_DIR) + "/tests/fixtures/modules/" + name +
                           ".safetensors");
    for (const auto& [k, t] : all)
      if (k.starts_with("param.")) params.emplace(k.substr(6), t);
  }
  Variable input(const std::string& k) const {
    return Variable(all.at("input." + k).clone(), true);
  }
};

// Backward with the fixture's output gradient, then compare every gradient.
void check(const Fixture& f, const Module& m, const Variable& out,
           const std::vector<std::pair<std::string, Variable>>& inputs) {
  expect_close(out.value(), f.all.at("output"), "output", 3e-5);
  out.backward(f.all.at("grad_output"));
  for (const auto& [k, v] : inputs)
    expect_close(v.grad(), f.all.at("grad_input." + k), "grad " + k, 3e-5);
  for (const auto& [k, p] : m.named_parameters())
    expect_close(p.grad(), f.all.at("grad." + k), "grad " + k, 3e-5);
}

TEST(MultiheadAttention, CausalAndPaddingMasksMatchPyTorch) {
  const Fixture f("mha_masked");
  RngStream rng(0, RngPurpose::init);
  MultiheadAttention mha(8, 2, rng);
  mha.load_state_dict(f.params);
  const Variable x = f.input("x");
  const Variable out =
      mha.attend(x, x, x, {.key_padding = f.all.at("input.key_padding"), .causal = true});
  check(f, mha, out, {{"x", x}});
}

TEST(MultiheadAttention, CrossAttentionMatchesPyTorch) {
  const Fixture f("mha_cross");
  RngStream rng(0, RngPurpose::init);
  MultiheadAttention mha(8, 4, rng);
  mha.load_state_dict(f.params);
  const Variable q = f.input("q"), kv = f.input("kv");
  check(f, mha, mha.attend(q, kv, kv), {{"q", q}, {"kv", kv}});
}

// Key and value sizes apart from the embedding's: three projection weights, named and shaped
// as PyTorch's, and PyTorch's results with a key padding mask.
TEST(MultiheadAttention, KdimAndVdimMatchPyTorch) {
  const Fixture f("mha_kdim_vdim");
  RngStream rng(0, RngPurpose::init);
  MultiheadAttention mha({.embed_dim = 8, .num_heads = 2, .kdim = 6, .vdim = 5}, rng);
  std::vector<std::pair<std::string, Shape>> shapes;
  for (const auto& [name, p] : mha.named_parameters()) shapes.emplace_back(name, p.shape());
  const std::vector<std::pair<std::string, Shape>> expected{
      {"q_proj_weight", {8, 8}}, {"k_proj_weight", {8, 6}},   {"v_proj_weight", {8, 5}},
      {"in_proj_bias", {24}},    {"out_proj.weight", {8, 8}}, {"out_proj.bias", {8}}};
  EXPECT_EQ(shapes, expected);
  mha.load_state_dict(f.params);
  const Variable q = f.input("q"), k = f.input("k"), v = f.input("v");
  check(f, mha, mha.attend(q, k, v, {.key_padding = f.all.at("input.key_padding")}),
        {{"q", q}, {"k", k}, {"v", v}});
  // The key's and value's sizes are checked against kdim and vdim.
  EXPECT_THROW(mha.attend(q, v, v), Error);
  EXPECT_THROW(mha.attend(q, k, k), Error);
}

TEST(TransformerEncoderLayer, PostNormReluMatchesPyTorch) {
  const Fixture f("encoder_post_relu");
  RngStream rng(0, RngPurpose::init);
  TransformerEncoderLayer layer({.d_model = 8, .num_heads = 2, .dim_feedforward = 16, .dropout = 0},
                                rng);
  layer.load_state_dict(f.params);
  const Variable x = f.input("x");
  check(f, layer, layer(x), {{"x", x}});
}

TEST(TransformerEncoderLayer, PreNormGeluMatchesPyTorch) {
  const Fixture f("encoder_pre_gelu");
  RngStream rng(0, RngPurpose::init);
  TransformerEncoderLayer layer({.d_model = 8,
                                 .num_heads = 2,
                                 .dim_feedforward = 16,
                                 .dropout = 0,
                                 .gelu = true,
                                 .norm_first = true},
                                rng);
  layer.load_state_dict(f.params);
  const Variable x = f.input("x");
  check(f, layer, layer(x), {{"x", x}});
}

TEST(MultiheadAttention, RejectsBadShapes) {
  RngStream rng(0, RngPurpose::init);
  EXPECT_THROW(MultiheadAttention(10, 3, rng), Error);
  MultiheadAttention mha(8, 2, rng);
  EXPECT_THROW(mha(Variable(Tensor::zeros({2, 5, 6}))), Error);
  const Variable x(Tensor::zeros({2, 5, 8}));
  EXPECT_THROW(mha.attend(x, x, x, {.key_padding = Tensor::zeros({2, 4})}), Error);
}

}  // namespace
}  // namespace tide
