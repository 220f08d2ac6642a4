#include "tide/nn/attention.hpp"

#include <cmath>
#include <limits>

#include "tide/autograd/ops.hpp"
#include "tide/nn/init.hpp"

namespace tide {
namespace {

// (B, L, E) -> (B * H, L, E / H): each head's slice of the features as its own batch entry.
Variable split_heads(const Variable& x, int64_t heads) {
  const int64_t b = x.dim(0), l = x.dim(1), d = x.dim(2) / heads;
  return reshape(permute(reshape(x, {b, l, heads, d}), {0, 2, 1, 3}), {b * heads, l, d});
}

// (B * H, L, D) -> (B, L, H * D).
Variable merge_heads(const Variable& x, int64_t heads) {
  const int64_t b = x.dim(0) / heads, l = x.dim(1), d = x.dim(2);
  return reshape(permute(reshape(x, {b, heads, l, d}), {0, 2, 1, 3}), {b, l, heads * d});
}

// The additive mask (B or 1, 1, T or 1, S): 0 where attention is allowed, -inf elsewhere.
Tensor additive_mask(const AttentionMask& m, int64_t b, int64_t t, int64_t s, DType dtype) {
  const bool padding = m.key_padding.defined();
  if (padding)
    TIDE_CHECK(m.key_padding.shape() == Shape({b, s}),
               "attention: key padding mask {} should be ({}, {})", m.key_padding.str(), b, s);
  const int64_t mb = padding ? b : 1, mt = m.causal ? t : 1;
  Tensor mask = Tensor::zeros({mb, 1, mt, s}, DType::f64);
  double* p = mask.data<double>();
  const std::vector<double> pad = padding ? m.key_padding.to_vector() : std::vector<double>();
  const double inf = std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < mb; ++i)
    for (int64_t r = 0; r < mt; ++r)
      for (int64_t c = 0; c < s; ++c)
        if ((m.causal && c > r) || (padding && pad[static_cast<size_t>(i * s + c)] != 0))
          p[(i * mt + r) * s + c] = -inf;
  return mask.to(dtype);
}

}  // namespace

MultiheadAttention::MultiheadAttention(AttentionOptions o, RngStream& rng)
    : embed_dim_(o.embed_dim),
      num_heads_(o.num_heads),
      kdim_(o.kdim == 0 ? o.embed_dim : o.kdim),
      vdim_(o.vdim == 0 ? o.embed_dim : o.vdim),
      dropout_(o.dropout),
      masks_(o.seed, o.id) {
  const int64_t e = embed_dim_;
  TIDE_CHECK(e > 0 && num_heads_ > 0 && e % num_heads_ == 0,
             "MultiheadAttention({}, {}): the embedding size must be a positive multiple of the "
             "head count",
             e, num_heads_);
  TIDE_CHECK(kdim_ > 0 && vdim_ > 0,
             "MultiheadAttention({}, {}): kdim {} and vdim {} must be positive (0 for {})", e,
             num_heads_, o.kdim, o.vdim, e);
  // PyTorch: xavier_uniform_ on the stacked projections (or on each of the three when the
  // key or value size differs), zero biases.
  if (kdim_ == e && vdim_ == e) {
    in_proj_weight_ =
        register_parameter("in_proj_weight", xavier_uniform({3 * e, e}, e, 3 * e, 1.0, rng));
  } else {
    q_proj_weight_ = register_parameter("q_proj_weight", xavier_uniform({e, e}, e, e, 1.0, rng));
    k_proj_weight_ =
        register_parameter("k_proj_weight", xavier_uniform({e, kdim_}, kdim_, e, 1.0, rng));
    v_proj_weight_ =
        register_parameter("v_proj_weight", xavier_uniform({e, vdim_}, vdim_, e, 1.0, rng));
  }
  in_proj_bias_ = register_parameter("in_proj_bias", Tensor::zeros({3 * e}));
  out_proj_ = register_module("out_proj", std::make_shared<Linear>(e, e, rng));
  Tensor(out_proj_->bias().value()).fill(0.0);
}

MultiheadAttention::MultiheadAttention(int64_t embed_dim, int64_t num_heads, RngStream& rng,
                                       double dropout, uint64_t seed, uint64_t id)
    : MultiheadAttention(AttentionOptions{.embed_dim = embed_dim,
                                          .num_heads = num_heads,
                                          .dropout = dropout,
                                          .seed = seed,
                                          .id = id},
                         rng) {}

Variable MultiheadAttention::attend(const Variable& query, const Variable& key,
                                    const Variable& value, const AttentionMask& mask) {
  const int64_t e = embed_dim_, h = num_heads_;
  TIDE_CHECK(query.shape().ndim() == 3 && query.shape()[2] == e && key.shape().ndim() == 3 &&
                 key.shape()[2] == kdim_ && value.shape().ndim() == 3 &&
                 value.shape()[2] == vdim_ && key.dim(0) == query.dim(0) &&
                 value.dim(0) == query.dim(0) && value.dim(1) == key.dim(1),
             "MultiheadAttention({}): query {}, key {} and value {} should be (B, T, {}), "
             "(B, S, {}) and (B, S, {})",
             e, query.value().str(), key.value().str(), value.value().str(), e, kdim_, vdim_);
  const int64_t b = query.dim(0), t = query.dim(1), s = key.dim(1), d = e / h;
  // Three projections, each split into heads: (B * H, T or S, D). Packed, they are row
  // blocks of one weight (zero-copy views) whose input gradients add in place into one buffer.
  const std::vector<Variable> w =
      in_proj_weight_.defined()
          ? split(in_proj_weight_, {e, e, e}, 0)
          : std::vector<Variable>{q_proj_weight_, k_proj_weight_, v_proj_weight_};
  const auto bias = split(in_proj_bias_, {e, e, e}, 0);
  const Variable q = split_heads(linear(query, w[0], bias[0]), h);
  const Variable k = split_heads(linear(key, w[1], bias[1]), h);
  const Variable v = split_heads(linear(value, w[2], bias[2]), h);
  Variable scores =
      bmm(q, k, false, true, 1.0 / std::sqrt(static_cast<double>(d)));  // (B * H, T, S)
  if (mask.causal || mask.key_padding.defined()) {
    const Variable additive(additive_mask(mask, b, t, s, scores.dtype()));
    scores = reshape(reshape(scores, {b, h, t, s}) + additive, {b * h, t, s});
  }
  Variable weights = softmax(scores, -1);
  if (is_training() && dropout_ > 0) {
    RngStream rng = masks_.next();
    weights = dropout(weights, dropout_, rng);
  }
  const Variable attended = bmm(weights, v);  // (B * H, T, D)
  return (*out_proj_)(merge_heads(attended, h));
}

void MultiheadAttention::begin_step(int64_t step) {
  masks_.begin_step(step);
  Module::begin_step(step);
}

std::string MultiheadAttention::describe() const {
  if (kdim_ == embed_dim_ && vdim_ == embed_dim_)
    return fmt::format("MultiheadAttention({}, heads {})", embed_dim_, num_heads_);
  return fmt::format("MultiheadAttention({}, heads {}, kdim {}, vdim {})", embed_dim_, num_heads_,
                     kdim_, vdim_);
}

TransformerEncoderLayer::TransformerEncoderLayer(TransformerOptions o, RngStream& rng)
    : options_(o) {
  self_attn_ = register_module(
      "self_attn", std::make_shared<MultiheadAttention>(o.d_model, o.num_heads, rng, o.dropout,
                                                        o.seed, 4 * o.id + 3));
  linear1_ =
      register_module("linear1", std::make_shared<Linear>(o.d_model, o.dim_feedforward, rng));
  dropout_ = register_module("dropout", std::make_shared<Dropout>(o.dropout, o.seed, 4 * o.id));
  linear2_ =
      register_module("linear2", std::make_shared<Linear>(o.dim_feedforward, o.d_model, rng));
  norm1_ = register_module("norm1", std::make_shared<LayerNorm>(Shape{o.d_model}));
  norm2_ = register_module("norm2", std::make_shared<LayerNorm>(Shape{o.d_model}));
  dropout1_ =
      register_module("dropout1", std::make_shared<Dropout>(o.dropout, o.seed, 4 * o.id + 1));
  dropout2_ =
      register_module("dropout2", std::make_shared<Dropout>(o.dropout, o.seed, 4 * o.id + 2));
}

Variable TransformerEncoderLayer::feed_forward(const Variable& x) {
  const Variable hidden =
      options_.gelu ? gelu((*linear1_)(x)) : linear_relu(x, linear1_->weight(), linear1_->bias());
  return (*dropout2_)((*linear2_)((*dropout_)(hidden)));
}

Variable TransformerEncoderLayer::encode(const Variable& x, const AttentionMask& mask) {
  if (options_.norm_first) {
    const Variable n1 = (*norm1_)(x);
    const Variable y = x + (*dropout1_)(self_attn_->attend(n1, n1, n1, mask));
    return y + feed_forward((*norm2_)(y));
  }
  const Variable y = (*norm1_)(x + (*dropout1_)(self_attn_->attend(x, x, x, mask)));
  return (*norm2_)(y + feed_forward(y));
}

std::string TransformerEncoderLayer::describe() const {
  return fmt::format("TransformerEncoderLayer(d_model {}, heads {}, feed-forward {}, {}{})",
                     options_.d_model, options_.num_heads, options_.dim_feedforward,
                     options_.norm_first ? "pre-norm" : "post-norm", options_.gelu ? ", GELU" : "");
}

}  // namespace tide
