// Layer and batch normalisation through oneDNN's primitives, on the caller's plain layouts:
// (rows, cols) for layer norm, (N, C, S) for batch norm. Built once per shape and kept.
#include <algorithm>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "tide/kernels/dnnl_context.hpp"
#include "tide/kernels/norm.hpp"
#include "tide/kernels/parallel.hpp"

namespace tide {
namespace {

using dnnl::normalization_flags;
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

normalization_flags affine_flags(bool has_w, bool has_b) {
  auto f = normalization_flags::none;
  if (has_w) f |= normalization_flags::use_scale;
  if (has_b) f |= normalization_flags::use_shift;
  return f;
}

// Parameter gradients come from prop_kind::backward; without parameters there are none.
dnnl::prop_kind backward_kind(bool has_w, bool has_b) {
  return has_w || has_b ? dnnl::prop_kind::backward : dnnl::prop_kind::backward_data;
}

struct NormPrimitives {
  dnnl::memory::desc data, stats, params;
  dnnl::primitive forward, backward;
};

NormPrimitives build_layer_norm(int64_t rows, int64_t cols, bool has_w, bool has_b, double eps) {
  NormPrimitives p;
  p.data = dnnl::memory::desc({rows, cols}, dt::f32, tag::ab);
  p.stats = dnnl::memory::desc({rows}, dt::f32, tag::a);
  p.params = dnnl::memory::desc({cols}, dt::f32, tag::a);
  const auto flags = affine_flags(has_w, has_b);
  const auto e = static_cast<float>(eps);
  auto& engine = dnnl_engine();
  using fwd_t = dnnl::layer_normalization_forward;
  using bwd_t = dnnl::layer_normalization_backward;
  fwd_t::primitive_desc f(fwd_t::desc(dnnl::prop_kind::forward_training, p.data, p.stats, e, flags),
                          engine);
  p.forward = fwd_t(f);
  p.backward = bwd_t(bwd_t::primitive_desc(
      bwd_t::desc(backward_kind(has_w, has_b), p.data, p.data, p.stats, e, flags), engine, f));
  return p;
}

const NormPrimitives& layer_norm_primitives(int64_t rows, int64_t cols, bool has_w, bool has_b,
                                            double eps) {
  return cached_primitives(
      std::tuple(rows, cols, has_w, has_b, eps),
      [&] { return build_layer_norm(rows, cols, has_w, has_b, eps); },
      [&] { return fmt::format("layer normalisation for ({}, {})", rows, cols); });
}

// The forward always normalises with statistics it is given (batch_statistics' in training:
// oneDNN's own lose the digits of inputs far from zero). The backward of training is built
// without use_global_stats, so that it still differentiates through the batch's statistics.
NormPrimitives build_batch_norm(const BatchNormArgs& a, bool has_w, bool has_b) {
  NormPrimitives p;
  p.data = dnnl::memory::desc({a.n, a.c, 1, a.s}, dt::f32, tag::nchw);
  p.stats = p.params = dnnl::memory::desc({a.c}, dt::f32, tag::a);
  const auto affine = affine_flags(has_w, has_b);
  const auto given_stats = affine | normalization_flags::use_global_stats;
  const auto backward_flags = a.training ? affine : given_stats;
  const auto e = static_cast<float>(a.eps);
  auto& engine = dnnl_engine();
  using fwd_t = dnnl::batch_normalization_forward;
  using bwd_t = dnnl::batch_normalization_backward;
  p.forward = fwd_t(fwd_t::primitive_desc(
      fwd_t::desc(dnnl::prop_kind::forward_inference, p.data, e, given_stats), engine));
  fwd_t::primitive_desc hint(
      fwd_t::desc(dnnl::prop_kind::forward_training, p.data, e, backward_flags), engine);
  p.backward = bwd_t(bwd_t::primitive_desc(
      bwd_t::desc(backward_kind(has_w, has_b), p.data, p.data, e, backward_flags), engine, hint));
  return p;
}

const NormPrimitives& batch_norm_primitives(const BatchNormArgs& a, bool has_w, bool has_b) {
  return cached_primitives(
      std::tuple(a.n, a.c, a.s, a.training, a.eps, has_w, has_b),
      [&] { return build_batch_norm(a, has_w, has_b); },
      [&] { return fmt::format("batch normalisation for ({}, {}, {})", a.n, a.c, a.s); });
}

// The arguments shared by forward and backward: the statistics and the parameters present.
std::unordered_map<int, dnnl::memory> common_args(const NormPrimitives& p, const float* mean,
                                                  const float* var, const float* w,
                                                  const float* b) {
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_MEAN, user_memory(p.stats, mean)},
                                             {DNNL_ARG_VARIANCE, user_memory(p.stats, var)}};
  if (w) args.emplace(DNNL_ARG_SCALE, user_memory(p.params, w));
  if (b) args.emplace(DNNL_ARG_SHIFT, user_memory(p.params, b));
  return args;
}

// Backward, given the primitives built with use_scale when w is given and use_shift when db
// is wanted. oneDNN writes every gradient its flags imply (the ones the caller does not want
// go to scratch) and asks for the shift too, though no gradient depends on its value.
void run_backward(const NormPrimitives& p, float* dx, float* dw, float* db, const float* dy,
                  const float* x, const float* w, const float* mean, const float* var,
                  int64_t data_size, int64_t param_size) {
  std::vector<float> scratch(static_cast<size_t>(2 * param_size + (dx ? 0 : data_size)));
  float* unused_dw = scratch.data();
  const float* zero_shift = scratch.data() + param_size;
  auto args = common_args(p, mean, var, w, db ? zero_shift : nullptr);
  args.emplace(DNNL_ARG_SRC, user_memory(p.data, x));
  args.emplace(DNNL_ARG_DIFF_DST, user_memory(p.data, dy));
  args.emplace(DNNL_ARG_DIFF_SRC, user_memory(p.data, dx ? dx : scratch.data() + 2 * param_size));
  if (w) args.emplace(DNNL_ARG_DIFF_SCALE, user_memory(p.params, dw ? dw : unused_dw));
  if (db) args.emplace(DNNL_ARG_DIFF_SHIFT, user_memory(p.params, db));
  p.backward.execute(dnnl_stream(), args);
  dnnl_stream().wait();
}

void run_forward(const NormPrimitives& p, float* y, float* mean, float* var, const float* x,
                 const float* w, const float* b) {
  auto args = common_args(p, mean, var, w, b);
  args.emplace(DNNL_ARG_SRC, user_memory(p.data, x));
  args.emplace(DNNL_ARG_DST, user_memory(p.data, y));
  p.forward.execute(dnnl_stream(), args);
  dnnl_stream().wait();
}

// Per channel of v (N, C, S), the sums of v - shift[ch] and of its square, in double. Fixed
// blocks of samples are summed in parallel and added in block order, so the result does not
// depend on the number of threads.
void channel_sums(std::vector<double>& sum, std::vector<double>& sum_sq, const float* v,
                  const std::vector<double>& shift, const BatchNormArgs& a) {
  constexpr int64_t kBlockValues = 1 << 14;
  const int64_t n = a.n, c = a.c, s = a.s;
  const int64_t per_block = std::max<int64_t>(1, kBlockValues / (c * s));
  const int64_t blocks = (n + per_block - 1) / per_block;
  std::vector<double> partial(static_cast<size_t>(2 * blocks * c));  // (block, channel, 2)
#pragma omp parallel for collapse(2) if (n * c * s > kParallelGrain)
  for (int64_t blk = 0; blk < blocks; ++blk)
    for (int64_t ch = 0; ch < c; ++ch) {
      double s1 = 0, s2 = 0;
      for (int64_t i = blk * per_block; i < std::min(n, (blk + 1) * per_block); ++i) {
        const float* run = v + (i * c + ch) * s;
#pragma omp simd reduction(+ : s1, s2)
        for (int64_t k = 0; k < s; ++k) {
          const double d = run[k] - shift[ch];
          s1 += d;
          s2 += d * d;
        }
      }
      partial[2 * (blk * c + ch)] = s1;
      partial[2 * (blk * c + ch) + 1] = s2;
    }
  sum.assign(static_cast<size_t>(c), 0.0);
  sum_sq.assign(static_cast<size_t>(c), 0.0);
  for (int64_t blk = 0; blk < blocks; ++blk)
    for (int64_t ch = 0; ch < c; ++ch) {
      sum[ch] += partial[2 * (blk * c + ch)];
      sum_sq[ch] += partial[2 * (blk * c + ch) + 1];
    }
}

// Per-channel mean and biased variance of x (N, C, S), from sums in double of the values
// less a shift (the channel's first value): inputs far from zero then keep their digits,
// where E[x^2] - E[x]^2 in float would cancel them.
void batch_statistics(std::vector<double>& mean, std::vector<double>& var, const float* x,
                      const BatchNormArgs& a) {
  std::vector<double> shift(static_cast<size_t>(a.c)), sum, sum_sq;
  for (int64_t ch = 0; ch < a.c; ++ch) shift[ch] = x[ch * a.s];
  channel_sums(sum, sum_sq, x, shift, a);
  const auto count = static_cast<double>(a.n * a.s);
  for (int64_t ch = 0; ch < a.c; ++ch) {
    const double shifted_mean = sum[ch] / count;
    mean[ch] = shift[ch] + shifted_mean;
    var[ch] = std::max(0.0, sum_sq[ch] / count - shifted_mean * shifted_mean);
  }
}

// An empty input has zero parameter gradients (and oneDNN builds no primitive for it).
void zero_params(float* dw, float* db, int64_t size) {
  for (int64_t j = 0; j < size; ++j) {
    if (dw) dw[j] = 0;
    if (db) db[j] = 0;
  }
}

}  // namespace

void layer_norm(float* y, float* mean, float* var, const float* x, const float* w, const float* b,
                int64_t rows, int64_t cols, double eps) {
  if (rows * cols == 0) return;
  run_forward(layer_norm_primitives(rows, cols, w, b, eps), y, mean, var, x, w, b);
}

void layer_norm_backward(float* dx, float* dw, float* db, const float* dy, const float* x,
                         const float* w, const float* mean, const float* var, int64_t rows,
                         int64_t cols, double eps) {
  if (rows * cols == 0) return zero_params(dw, db, cols);
  const NormPrimitives& p = layer_norm_primitives(rows, cols, w, db, eps);
  run_backward(p, dx, dw, db, dy, x, w, mean, var, rows * cols, cols);
}

void batch_norm(float* y, float* mean, float* var, float* running_mean, float* running_var,
                const float* x, const float* w, const float* b, const BatchNormArgs& a) {
  const int64_t data_size = a.n * a.c * a.s;
  if (data_size == 0) return;
  const NormPrimitives& p = batch_norm_primitives(a, w, b);
  if (!a.training) {  // the running statistics are the inputs, kept as they were for backward
    for (int64_t ch = 0; ch < a.c; ++ch) mean[ch] = running_mean[ch], var[ch] = running_var[ch];
    return run_forward(p, y, mean, var, x, w, b);
  }
  std::vector<double> batch_mean(static_cast<size_t>(a.c)), batch_var(batch_mean.size());
  batch_statistics(batch_mean, batch_var, x, a);
  for (int64_t ch = 0; ch < a.c; ++ch) {
    mean[ch] = static_cast<float>(batch_mean[ch]);
    var[ch] = static_cast<float>(batch_var[ch]);
  }
  run_forward(p, y, mean, var, x, w, b);
  if (!running_mean) return;
  const int64_t count = a.n * a.s;
  const double unbias =
      count > 1 ? static_cast<double>(count) / static_cast<double>(count - 1) : 1.0;
  for (int64_t ch = 0; ch < a.c; ++ch) {
    running_mean[ch] =
        static_cast<float>((1 - a.momentum) * running_mean[ch] + a.momentum * batch_mean[ch]);
    running_var[ch] = static_cast<float>((1 - a.momentum) * running_var[ch] +
                                         a.momentum * batch_var[ch] * unbias);
  }
}

void batch_norm_backward(float* dx, float* dw, float* db, const float* dy, const float* x,
                         const float* w, const float* mean, const float* var,
                         const BatchNormArgs& a) {
  const int64_t data_size = a.n * a.c * a.s;
  if (data_size == 0) return zero_params(dw, db, a.c);
  const NormPrimitives& p = batch_norm_primitives(a, w, db);
  run_backward(p, dx, dw, db, dy, x, w, mean, var, data_size, a.c);
  if (!db) return;
  // oneDNN sums dy in float; in double, as PyTorch, it keeps its digits over large batches.
  std::vector<double> sum, unused;
  channel_sums(sum, unused, dy, std::vector<double>(static_cast<size_t>(a.c), 0.0), a);
  for (int64_t ch = 0; ch < a.c; ++ch) db[ch] = static_cast<float>(sum[ch]);
}

}  // namespace tide
