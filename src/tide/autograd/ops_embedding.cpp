#include "tide/autograd/ops_embedding.hpp"

#include <cstring>

#include "tide/autograd/dispatch.hpp"
#include "tide/autograd/tensor_math.hpp"

namespace tide {

Variable embedding(const Variable& weight, const Tensor& indices,
                   std::optional<int64_t> padding_idx) {
  const Tensor& w = weight.value();
  TIDE_CHECK(w.ndim() == 2, "embedding: weight must be (V, D), got {}", w.str());
  TIDE_CHECK(indices.dtype() == DType::i64, "embedding: indices must be i64, got {}",
             indices.str());
  const int64_t vocab = w.dim(0), d = w.dim(1), n = indices.numel();
  if (padding_idx) {
    TIDE_CHECK(*padding_idx >= -vocab && *padding_idx < vocab,
               "embedding: padding_idx {} is outside the vocabulary of {}", *padding_idx, vocab);
    if (*padding_idx < 0) *padding_idx += vocab;
  }
  const int64_t padding = padding_idx.value_or(-1);
  const int64_t* idx = indices.data<int64_t>();
  for (int64_t i = 0; i < n; ++i)
    TIDE_CHECK(idx[i] >= 0 && idx[i] < vocab,
               "embedding: index {} at position {} is outside the vocabulary of {}", idx[i], i,
               vocab);
  std::vector<int64_t> out_dims = indices.shape().dims();
  out_dims.push_back(d);
  Tensor y = Tensor::empty(Shape(out_dims), w.dtype());
  dispatch_float(w.dtype(), "embedding", [&]<class T>(T) {
    T* out = y.data<T>();
    const T* table = w.data<T>();
    for (int64_t i = 0; i < n; ++i)
      std::memcpy(out + i * d, table + idx[i] * d, static_cast<size_t>(d) * sizeof(T));
  });
  return make_result(
      y, {weight},
      [indices, d, n, padding](const Tensor& dy, std::vector<Variable>& in) {
        Tensor dw = in[0].new_grad();  // (vocab, d)
        dw.fill(0.0);
        const int64_t* ids = indices.data<int64_t>();
        dispatch_float(dy.dtype(), "embedding backward", [&]<class T>(T) {
          // Serial over positions (repeated indices add into the same row); rows vectorise.
          T* out = dw.data<T>();
          const T* g = dy.data<T>();
          for (int64_t i = 0; i < n; ++i) {
            if (ids[i] == padding) continue;
            T* row = out + ids[i] * d;
            const T* from = g + i * d;
#pragma omp simd
            for (int64_t j = 0; j < d; ++j) row[j] += from[j];
          }
        });
        in[0].accumulate_grad(dw);
      },
      "embedding");
}

Variable dropout(const Variable& x, double p, RngStream& rng) {
  TIDE_CHECK(p >= 0 && p < 1, "dropout probability must be in [0, 1), got {}", p);
  if (p == 0) return x;
  Tensor mask = Tensor::empty(x.shape(), x.dtype());
  const double keep_scale = 1.0 / (1.0 - p);
  dispatch_float(x.dtype(), "dropout", [&]<class T>(T) {
    T* m = mask.data<T>();
    for (int64_t i = 0; i < mask.numel(); ++i)
      m[i] = rng.uniform_double() >= p ? static_cast<T>(keep_scale) : T(0);
  });
  Tensor y = binary_tensor(x.value(), mask, BinaryOp::mul);
  return make_result(
      y, {x},
      [mask](const Tensor& dy, std::vector<Variable>& in) {
        in[0].accumulate_grad(binary_tensor(dy, mask, BinaryOp::mul));
      },
      "dropout");
}

}  // namespace tide
