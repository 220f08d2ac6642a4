// Fused optimizer updates: one pass over a parameter, its gradient and its state.
#pragma once

#include <cstdint>

namespace tide {

// One SGD step with PyTorch's semantics, for p, g and the momentum buffer m, all (n):
//   d = g + weight_decay * p
//   m = first_step ? d : momentum * m + (1 - dampening) * d     (only when momentum != 0)
//   d = nesterov ? d + momentum * m : m                           (only when momentum != 0)
//   p = p - lr * d
// m may be null when momentum is 0.
void sgd_step(float* p, float* m, const float* g, int64_t n, float lr, float momentum,
              float dampening, float weight_decay, bool nesterov, bool first_step);

// One Adam step (torch.optim.Adam, or AdamW with `decoupled`), t the 1-based step count:
//   Adam:  d = g + weight_decay * p            AdamW: p = p * (1 - lr * weight_decay), d = g
//   m = beta1 * m + (1 - beta1) * d;  v = beta2 * v + (1 - beta2) * d^2
//   amsgrad (v_max not null): v_max = max(v_max, v), and v_max stands for v below
//   p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
void adam_step(float* p, float* m, float* v, float* v_max, const float* g, int64_t n, float lr,
               float beta1, float beta2, float eps, float weight_decay, bool decoupled, int64_t t);

// One RMSprop step (torch.optim.RMSprop):
//   d = g + weight_decay * p;  v = alpha * v + (1 - alpha) * d^2
//   centered: a = alpha * a + (1 - alpha) * d, s = sqrt(v - a^2) + eps; else s = sqrt(v) + eps
//   momentum > 0: b = momentum * b + d / s, p = p - lr * b;  else p = p - lr * d / s
// `avg` (a) is null unless centered, `buf` (b) null unless momentum > 0.
void rmsprop_step(float* p, float* v, float* avg, float* buf, const float* g, int64_t n, float lr,
                  float alpha, float eps, float weight_decay, float momentum);

// One Adagrad step (torch.optim.Adagrad), t the 1-based step count:
//   d = g + weight_decay * p;  s = s + d^2;  p = p - lr / (1 + (t - 1) * lr_decay) * d / (sqrt(s) +
//   eps)
void adagrad_step(float* p, float* sum, const float* g, int64_t n, float lr, float lr_decay,
                  float eps, float weight_decay, int64_t t);

// Sum of squares of x (n), in double.
double sum_of_squares(const float* x, int64_t n);

// One LARS step with momentum (You, Gitman and Ginsburg, 2017), for one layer:
//   d = g + weight_decay * p;  b = momentum * b + local_lr * d;  p = p - b
// (the caller computes local_lr = lr * trust ratio).
void lars_step(float* p, float* b, const float* g, int64_t n, float local_lr, float momentum,
               float weight_decay);

// Gradient regularisation in place on g (n): g *= factor; g = clamp(g, -limit, limit);
// g += l1 * sign(p) (0 where p is 0).
void scale_in_place(float* g, int64_t n, float factor);
void clamp_in_place(float* g, int64_t n, float limit);
void add_sign(float* g, const float* p, int64_t n, float l1);

}  // namespace tide
