// Data movement: block copies for concatenation and slicing, and axis permutation.
#pragma once

#include <cstdint>
#include <vector>

namespace tide {

// For each of `outer` blocks, copies `count` elements from src + o * src_stride to
// dst + o * dst_stride (element offsets): the core of concatenation and slicing along one
// dimension. `T` is any trivially copyable element type.
template <class T>
void copy_blocks(T* dst, const T* src, int64_t outer, int64_t count, int64_t dst_stride,
                 int64_t src_stride);

// As copy_blocks, but adds: dst block += src block (float and double).
template <class T>
void add_blocks(T* dst, const T* src, int64_t outer, int64_t count, int64_t dst_stride,
                int64_t src_stride);

// dst = src with its axes reordered: dst dimension i is src dimension perm[i].
// shape is src's shape; dst's is shape[perm[i]].
template <class T>
void permute(T* dst, const T* src, const std::vector<int64_t>& shape, const std::vector<int>& perm);

}  // namespace tide
