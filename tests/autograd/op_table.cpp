#include "op_table.hpp"

namespace tide::testing {
namespace {

using V = const std::vector<Variable>&;
constexpr auto kAny = InputKind::any;
constexpr auto kPos = InputKind::positive;

Tensor labels() {
  return Tensor::from<int64_t>({6}, {0, 3, 1, 4, 2, 0});
}

// generate.py's WEIGHTS and PROBS: class weights, and probability targets (6, 5) made of
// small integers over their row sums (a division rounded alike in both).
// generate.py's HUBER_TARGETS: (4, 5) values k / 4 - 2, so that 3x - t falls on both sides of
// the loss's delta.
Tensor huber_targets(DType dtype) {
  std::vector<float> t(20);
  for (int k = 0; k < 20; ++k) t[k] = static_cast<float>(k) / 4.0f - 2.0f;
  return Tensor::from<float>({4, 5}, t).to(dtype);
}

Tensor class_weights() {
  return Tensor::from<float>({5}, {0.5f, 2.0f, 1.0f, 0.25f, 1.5f});
}
Tensor probabilities() {
  std::vector<float> p(30);
  for (int i = 0; i < 6; ++i) {
    float sum = 0;
    for (int c = 0; c < 5; ++c) sum += static_cast<float>((i * 7 + c * 3) % 5 + 1);
    for (int c = 0; c < 5; ++c) p[i * 5 + c] = static_cast<float>((i * 7 + c * 3) % 5 + 1) / sum;
  }
  return Tensor::from<float>({6, 5}, p);
}

}  // namespace

const std::vector<OpCase>& op_table() {
  static const std::vector<OpCase> table = {
      {"add", {{4, 3, 5}, {3, 1}}, {kAny, kAny}, [](V x) { return x[0] + x[1]; }},
      {"sub", {{4, 5}, {5}}, {kAny, kAny}, [](V x) { return x[0] - x[1]; }},
      {"mul", {{2, 3, 4}, {1, 3, 1}}, {kAny, kAny}, [](V x) { return x[0] * x[1]; }},
      {"div", {{4, 5}, {4, 1}}, {kAny, kPos}, [](V x) { return x[0] / x[1]; }},
      {"affine", {{3, 4}}, {kAny}, [](V x) { return x[0] * 2.5 - 1.0; }},
      {"matmul", {{5, 7}, {7, 3}}, {kAny, kAny}, [](V x) { return matmul(x[0], x[1]); }},
      {"linear",
       {{6, 7}, {4, 7}, {4}},
       {kAny, kAny, kAny},
       [](V x) { return linear(x[0], x[1], x[2]); }},
      {"linear_3d",
       {{2, 3, 7}, {4, 7}, {4}},
       {kAny, kAny, kAny},
       [](V x) { return linear(x[0], x[1], x[2]); }},
      {"linear_relu",
       {{2, 5, 7}, {6, 7}, {6}},
       {kAny, kAny, kAny},
       [](V x) { return linear_relu(x[0], x[1], x[2]); }},
      {"relu", {{4, 6}}, {InputKind::away_from_zero}, [](V x) { return relu(x[0]); }},
      {"sigmoid", {{4, 6}}, {kAny}, [](V x) { return sigmoid(x[0]); }},
      {"tanh", {{4, 6}}, {kAny}, [](V x) { return tide::tanh(x[0]); }},
      {"exp", {{4, 6}}, {kAny}, [](V x) { return tide::exp(x[0]); }},
      {"log", {{4, 6}}, {kPos}, [](V x) { return tide::log(x[0]); }},
      {"square", {{4, 6}}, {kAny}, [](V x) { return square(x[0]); }},
      {"sqrt", {{4, 6}}, {kPos}, [](V x) { return tide::sqrt(x[0]); }},
      {"sum_all", {{3, 4, 5}}, {kAny}, [](V x) { return sum(x[0]); }},
      {"sum_dim1", {{3, 4, 5}}, {kAny}, [](V x) { return sum(x[0], 1); }},
      {"mean_all", {{3, 4, 5}}, {kAny}, [](V x) { return mean(x[0]); }},
      {"mean_dim0_keepdim", {{3, 4, 5}}, {kAny}, [](V x) { return mean(x[0], 0, true); }},
      {"softmax", {{4, 7}}, {kAny}, [](V x) { return softmax(x[0], -1); }},
      {"softmax_dim1", {{2, 5, 3}}, {kAny}, [](V x) { return softmax(x[0], 1); }},
      {"log_softmax", {{4, 7}}, {kAny}, [](V x) { return log_softmax(x[0], -1); }},
      {"log_softmax_dim0", {{5, 3}}, {kAny}, [](V x) { return log_softmax(x[0], 0); }},
      {"cross_entropy", {{6, 5}}, {kAny}, [](V x) { return cross_entropy(x[0] * 3.0, labels()); }},
      {"huber_loss",
       {{4, 5}},
       {kAny},
       [](V x) { return huber_loss(x[0] * 3.0, huber_targets(x[0].dtype()), 1.5); }},
      {"cross_entropy_weighted",
       {{6, 5}},
       {kAny},
       [](V x) {
         return cross_entropy(
             x[0] * 3.0, labels(),
             CrossEntropyOptions{
                 .weight = class_weights(), .ignore_index = 2, .label_smoothing = 0.1});
       }},
      {"cross_entropy_probs",
       {{6, 5}},
       {kAny},
       [](V x) {
         return cross_entropy_soft(
             x[0] * 3.0, probabilities(),
             CrossEntropyOptions{
                 .weight = class_weights(), .ignore_index = -100, .label_smoothing = 0.2});
       }},
      {"mse_loss", {{4, 5}, {4, 5}}, {kAny, kAny}, [](V x) { return mse_loss(x[0], x[1]); }},
      {"flatten", {{2, 3, 4}}, {kAny}, [](V x) { return flatten(x[0], 1); }},
      {"conv2d",
       {{2, 3, 7, 6}, {4, 3, 3, 3}, {4}},
       {kAny, kAny, kAny},
       [](V x) { return conv2d(x[0], x[1], x[2]); }},
      {"conv2d_stride_pad",
       {{2, 2, 9, 8}, {3, 2, 3, 2}, {3}},
       {kAny, kAny, kAny},
       [](V x) {
         return conv2d(x[0], x[1], x[2], {.stride = {2, 3}, .padding = {1, 2}});
       }},
      {"conv2d_dilation_nobias",
       {{1, 2, 9, 9}, {3, 2, 3, 3}},
       {kAny, kAny},
       [](V x) {
         return conv2d(x[0], x[1], Variable(), {.padding = {2, 1}, .dilation = {2, 3}});
       }},
      {"conv2d_groups",
       {{2, 4, 6, 5}, {6, 2, 3, 3}, {6}},
       {kAny, kAny, kAny},
       [](V x) {
         return conv2d(x[0], x[1], x[2], {.padding = {1, 1}, .groups = 2});
       }},
      {"concat_dim1",
       {{2, 3, 4}, {2, 2, 4}},
       {kAny, kAny},
       [](V x) {
         return concat({x[0], x[1]}, 1);
       }},
      {"concat_dim0",
       {{1, 3}, {2, 3}, {3, 3}},
       {kAny, kAny, kAny},
       [](V x) {
         return concat({x[0], x[1], x[2]}, 0);
       }},
      {"slice", {{4, 5}}, {kAny}, [](V x) { return slice(x[0], 1, 1, 4); }},
      {"split",
       {{3, 5}},
       {kAny},
       [](V x) {
         auto parts = split(x[0], {2, 3}, 1);
         return concat({parts[1], parts[0] * 2.0}, 1);
       }},
      {"permute",
       {{2, 3, 4}},
       {kAny},
       [](V x) {
         return permute(x[0], {2, 0, 1});
       }},
      {"transpose", {{3, 4}}, {kAny}, [](V x) { return transpose(x[0], 0, 1); }},
      {"flip", {{2, 3, 4}}, {kAny}, [](V x) { return flip(x[0], 1); }},
      {"flip_last", {{3, 5}}, {kAny}, [](V x) { return flip(x[0], -1); }},
      {"gelu", {{4, 6}}, {kAny}, [](V x) { return gelu(x[0] * 2.0); }},
      {"gelu_tanh",
       {{4, 6}},
       {kAny},
       [](V x) { return gelu(x[0] * 2.0, GeluApproximation::tanh); }},
      {"layer_norm",
       {{3, 4, 5}, {4, 5}, {4, 5}},
       {kAny, kAny, kAny},
       [](V x) { return layer_norm(x[0], 2, x[1], x[2]); }},
      {"layer_norm_plain",
       {{6, 5}},
       {kAny},
       [](V x) { return layer_norm(x[0], 1, Variable(), Variable()); }},
      {"batch_norm_train",
       {{4, 3, 2, 2}, {3}, {3}},
       {kAny, kAny, kAny},
       [](V x) {
         const DType t = x[0].dtype();
         return batch_norm(x[0], x[1], x[2], Tensor::zeros({3}, t), Tensor::full({3}, 1.0, t),
                           true);
       }},
      {"batch_norm1d_train",
       {{6, 4}},
       {kAny},
       [](V x) { return batch_norm(x[0], Variable(), Variable(), Tensor(), Tensor(), true); }},
      {"batch_norm_eval",
       {{4, 3, 2, 2}, {3}, {3}},
       {kAny, kAny, kAny},
       [](V x) {
         const DType t = x[0].dtype();
         return batch_norm(x[0], x[1], x[2], Tensor::from<double>({3}, {0.1, -0.2, 0.3}).to(t),
                           Tensor::from<double>({3}, {0.5, 1.5, 2.0}).to(t), false);
       }},
      {"embedding",
       {{7, 3}},
       {kAny},
       [](V x) {
         return embedding(x[0], Tensor::from<int64_t>({2, 3}, {1, 3, 3, 6, 0, 1}));
       }},
      {"bmm", {{2, 3, 4}, {2, 4, 5}}, {kAny, kAny}, [](V x) { return bmm(x[0], x[1]); }},
      {"bmm_trans_b",
       {{2, 3, 4}, {2, 5, 4}},
       {kAny, kAny},
       [](V x) { return bmm(x[0], x[1], false, true); }},
      {"bmm_scaled",
       {{2, 3, 4}, {2, 5, 4}},
       {kAny, kAny},
       [](V x) { return bmm(x[0], x[1], false, true, 0.35); }},
      {"bmm_trans_a",
       {{2, 4, 3}, {2, 4, 5}},
       {kAny, kAny},
       [](V x) { return bmm(x[0], x[1], true, false); }},
      {"bmm_trans_both",
       {{3, 4, 2}, {3, 5, 4}},
       {kAny, kAny},
       [](V x) { return bmm(x[0], x[1], true, true); }},
      {"max_pool2d", {{2, 3, 6, 7}}, {kAny}, [](V x) { return max_pool2d(x[0]); }},
      {"max_pool2d_stride_pad",
       {{1, 2, 7, 7}},
       {kAny},
       [](V x) {
         return max_pool2d(x[0], {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}});
       }},
      {"avg_pool2d", {{2, 3, 6, 7}}, {kAny}, [](V x) { return avg_pool2d(x[0]); }},
      {"avg_pool2d_stride_pad",
       {{1, 2, 7, 7}},
       {kAny},
       [](V x) {
         return avg_pool2d(x[0], {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}});
       }},
      {"max_pool2d_ceil",
       {{2, 3, 8, 7}},
       {kAny},
       [](V x) {
         return max_pool2d(
             x[0], {.kernel = {3, 2}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true});
       }},
      {"max_pool2d_dilation",
       {{1, 2, 9, 10}},
       {kAny},
       [](V x) {
         return max_pool2d(
             x[0], {.kernel = {3, 2}, .stride = {2, 1}, .padding = {1, 1}, .dilation = {2, 3}});
       }},
      {"max_pool2d_dilation_ceil",
       {{1, 2, 8, 9}},
       {kAny},
       [](V x) {
         return max_pool2d(x[0], {.kernel = {2, 2},
                                  .stride = {2, 2},
                                  .padding = {1, 1},
                                  .dilation = {2, 2},
                                  .ceil_mode = true});
       }},
      {"avg_pool2d_ceil",
       {{1, 2, 8, 7}},
       {kAny},
       [](V x) {
         return avg_pool2d(
             x[0], {.kernel = {3, 2}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true});
       }},
      {"avg_pool2d_ceil_exclude_pad",
       {{1, 2, 8, 7}},
       {kAny},
       [](V x) {
         return avg_pool2d(x[0], {.kernel = {3, 2},
                                  .stride = {2, 2},
                                  .padding = {1, 1},
                                  .ceil_mode = true,
                                  .count_include_pad = false});
       }},
      {"avg_pool2d_exclude_pad",
       {{1, 2, 7, 7}},
       {kAny},
       [](V x) {
         return avg_pool2d(
             x[0],
             {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .count_include_pad = false});
       }},
      {"pad2d_zeros",
       {{2, 3, 4, 5}},
       {kAny},
       [](V x) {
         return pad2d(x[0], {1, 2, 0, 3}, PaddingMode::zeros);
       }},
      {"pad2d_reflect",
       {{2, 3, 5, 6}},
       {kAny},
       [](V x) {
         return pad2d(x[0], {2, 1, 3, 4}, PaddingMode::reflect);
       }},
      {"pad2d_replicate",
       {{2, 3, 4, 5}},
       {kAny},
       [](V x) {
         return pad2d(x[0], {3, 1, 0, 6}, PaddingMode::replicate);
       }},
      {"pad2d_circular",
       {{2, 3, 4, 5}},
       {kAny},
       [](V x) {
         return pad2d(x[0], {2, 5, 4, 1}, PaddingMode::circular);
       }},
      {"conv2d_padding_replicate",
       {{2, 2, 5, 6}, {3, 2, 3, 3}, {3}},
       {kAny, kAny, kAny},
       [](V x) {
         return conv2d(
             x[0], x[1], x[2],
             {.stride = {2, 1}, .padding = {2, 1}, .padding_mode = PaddingMode::replicate});
       }},
      {"adaptive_avg_pool2d",
       {{2, 3, 7, 5}},
       {kAny},
       [](V x) { return adaptive_avg_pool2d(x[0], 3, 2); }},
      {"global_avg_pool2d",
       {{2, 3, 4, 5}},
       {kAny},
       [](V x) { return adaptive_avg_pool2d(x[0], 1, 1); }},
  };
  return table;
}

}  // namespace tide::testing
