#include "tide/kernels/copy.hpp"

#include <omp.h>

#include <algorithm>
#include <cstring>

#include "tide/kernels/parallel.hpp"

namespace tide {

template <class T>
void copy_blocks(T* dst, const T* src, int64_t outer, int64_t count, int64_t dst_stride,
                 int64_t src_stride) {
#pragma omp parallel for if (outer * count > kParallelGrain && outer > 1)
  for (int64_t o = 0; o < outer; ++o)
    std::memcpy(dst + o * dst_stride, src + o * src_stride, static_cast<size_t>(count) * sizeof(T));
}

template <class T>
void add_blocks(T* dst, const T* src, int64_t outer, int64_t count, int64_t dst_stride,
                int64_t src_stride) {
#pragma omp parallel for if (outer * count > kParallelGrain && outer > 1)
  for (int64_t o = 0; o < outer; ++o) {
    T* to = dst + o * dst_stride;
    const T* from = src + o * src_stride;
#pragma omp simd
    for (int64_t j = 0; j < count; ++j) to[j] += from[j];
  }
}

template <class T>
void permute(T* dst, const T* src, const std::vector<int64_t>& shape,
             const std::vector<int>& perm) {
  const int nd = static_cast<int>(shape.size());
  std::vector<int64_t> src_strides(static_cast<size_t>(nd), 1), dst_shape(static_cast<size_t>(nd));
  for (int i = nd - 2; i >= 0; --i) src_strides[i] = src_strides[i + 1] * shape[i + 1];
  int64_t total = 1;
  for (int i = 0; i < nd; ++i) {
    dst_shape[i] = shape[perm[i]];
    total *= shape[i];
  }
  if (total == 0) return;
  // Walk dst in order; the innermost dst axis moves src by a fixed stride. Each thread finds
  // the source offset of its first row by division, then steps an odometer over the outer
  // dst axes (a division per row would cost more than a short row's copy).
  const int64_t inner = nd > 0 ? dst_shape[nd - 1] : 1;
  const int64_t inner_stride = nd > 0 ? src_strides[perm[nd - 1]] : 0;
  const int64_t rows = total / inner;
  const int outer_dims = std::max(nd - 1, 0);
#pragma omp parallel if (total > kParallelGrain)
  {
    const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t r0 = rows * t / threads, r1 = rows * (t + 1) / threads;
    std::vector<int64_t> index(static_cast<size_t>(outer_dims));
    int64_t rest = r0, offset = 0;
    for (int i = outer_dims - 1; i >= 0; --i) {
      index[i] = rest % dst_shape[i];
      rest /= dst_shape[i];
      offset += index[i] * src_strides[perm[i]];
    }
    for (int64_t r = r0; r < r1; ++r) {
      T* out = dst + r * inner;
      const T* in = src + offset;
      if (inner_stride == 1)
        std::memcpy(out, in, static_cast<size_t>(inner) * sizeof(T));
      else
        for (int64_t j = 0; j < inner; ++j) out[j] = in[j * inner_stride];
      for (int i = outer_dims - 1; i >= 0; --i) {  // next row: carry through the odometer
        offset += src_strides[perm[i]];
        if (++index[i] < dst_shape[i]) break;
        offset -= index[i] * src_strides[perm[i]];
        index[i] = 0;
      }
    }
  }
}

#define TIDE_INSTANTIATE(T)                                                       \
  template void copy_blocks<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t); \
  template void permute<T>(T*, const T*, const std::vector<int64_t>&, const std::vector<int>&);
TIDE_INSTANTIATE(float)
TIDE_INSTANTIATE(double)
TIDE_INSTANTIATE(int64_t)
#undef TIDE_INSTANTIATE
template void add_blocks<float>(float*, const float*, int64_t, int64_t, int64_t, int64_t);
template void add_blocks<double>(double*, const double*, int64_t, int64_t, int64_t, int64_t);

}  // namespace tide
