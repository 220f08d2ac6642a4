// Multi-head attention and the Transformer encoder layer, batch-first, with the semantics and
// parameter names of torch.nn.MultiheadAttention and torch.nn.TransformerEncoderLayer.
#pragma once

#include "tide/core/rng.hpp"
#include "tide/nn/layers.hpp"
#include "tide/nn/norm_layers.hpp"

namespace tide {

// Masks for attention over keys. key_padding: (B, S), non-zero where a key is padding and
// must be ignored (PyTorch's True); undefined for none. causal: position t attends only to
// keys s <= t.
struct AttentionMask {
  Tensor key_padding;
  bool causal = false;
};

struct AttentionOptions {
  int64_t embed_dim = 1;  // E
  int64_t num_heads = 1;
  int64_t kdim = 0;  // the key's features; 0 for E
  int64_t vdim = 0;  // the value's features; 0 for E
  double dropout = 0;
  uint64_t seed = 0;
  uint64_t id = 0;
};

// Parameters as PyTorch's: in_proj_weight (3E, E), or, when kdim or vdim is not E,
// q_proj_weight (E, E), k_proj_weight (E, kdim) and v_proj_weight (E, vdim); in_proj_bias
// (3E); out_proj (Linear E -> E). In training, dropout with probability `dropout` applies to
// the attention weights, its masks drawn from RngStream(seed, dropout, {id, step, call}).
class MultiheadAttention : public Module {
 public:
  explicit MultiheadAttention(AttentionOptions options, RngStream& rng);
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, RngStream& rng, double dropout = 0,
                     uint64_t seed = 0, uint64_t id = 0);
  void begin_step(int64_t step) override;
  // query (B, T, E), key (B, S, kdim) and value (B, S, vdim) -> (B, T, E).
  Variable attend(const Variable& query, const Variable& key, const Variable& value,
                  const AttentionMask& mask = {});
  // Self-attention without masks.
  Variable forward(const Variable& x) override { return attend(x, x, x); }
  std::string describe() const override;
  int64_t embed_dim() const { return embed_dim_; }
  int64_t num_heads() const { return num_heads_; }

 private:
  int64_t embed_dim_, num_heads_, kdim_, vdim_;
  double dropout_;
  DropoutStreams masks_;
  Variable in_proj_weight_;  // when kdim = vdim = E, else the three below
  Variable q_proj_weight_, k_proj_weight_, v_proj_weight_;
  Variable in_proj_bias_;
  std::shared_ptr<Linear> out_proj_;
};

struct TransformerOptions {
  int64_t d_model = 128;
  int64_t num_heads = 4;
  int64_t dim_feedforward = 512;
  double dropout = 0.1;
  bool gelu = false;        // the feed-forward activation: ReLU (PyTorch's default) or GELU
  bool norm_first = false;  // pre-norm instead of PyTorch's default post-norm
  uint64_t seed = 0;        // for the dropout masks
  uint64_t id = 0;          // distinguishes the layers' dropout streams
};

class TransformerEncoderLayer : public Module {
 public:
  TransformerEncoderLayer(TransformerOptions options, RngStream& rng);
  // x (B, T, d_model) -> (B, T, d_model).
  Variable encode(const Variable& x, const AttentionMask& mask = {});
  Variable forward(const Variable& x) override { return encode(x); }
  std::string describe() const override;
  const TransformerOptions& options() const { return options_; }

 private:
  Variable feed_forward(const Variable& x);
  TransformerOptions options_;
  std::shared_ptr<MultiheadAttention> self_attn_;
  std::shared_ptr<Linear> linear1_, linear2_;
  std::shared_ptr<LayerNorm> norm1_, norm2_;
  std::shared_ptr<Dropout> dropout_, dropout1_, dropout2_;
};

}  // namespace tide
