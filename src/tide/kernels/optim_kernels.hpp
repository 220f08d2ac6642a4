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

}  // namespace tide
