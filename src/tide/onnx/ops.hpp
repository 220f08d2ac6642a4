// Inside the ONNX layer: the op families of the table (op_table.cpp) and the helpers on
// values they share. Each ops_*.cpp holds one family: its rows and how each node is built.
#pragma once

#include <string_view>
#include <vector>

#include "tide/nn/recurrent.hpp"
#include "tide/onnx/graph.hpp"

namespace tide {

// The rows of each family.
std::vector<OpKind> value_ops();      // ops_values.cpp: Constant, Shape, Cast, ...
std::vector<OpKind> shape_ops();      // ops_shape.cpp: Reshape, Transpose, Slice, Gather, ...
std::vector<OpKind> math_ops();       // ops_math.cpp: arithmetic, products, softmax, reductions
std::vector<OpKind> nn_ops();         // ops_nn.cpp: convolution, pooling, normalisation, ...
std::vector<OpKind> recurrent_ops();  // ops_recurrent.cpp: LSTM, GRU, RNN

// A row: `settings` are the inputs read as settings, `outputs` the outputs Tide computes.
OpKind op_kind(std::string_view type, int64_t since, std::vector<std::string_view> attributes,
               std::function<NodeFn(const NodeContext&)> build, std::vector<int> settings = {},
               int outputs = 1);

// ONNX orders an LSTM's gates i, o, f, c and a GRU's z, r, h; PyTorch's (and Tide's) are
// i, f, g, o and r, z, n. Entry k is the ONNX block of Tide's gate k (one entry for an RNN).
const std::vector<int>& onnx_gates(RecurrentKind kind);

// ---- integer values on the host

std::vector<int64_t> int_list(const Tensor& t);
Tensor int_tensor(const Shape& shape, const std::vector<int64_t>& values);
Tensor int_vector(const std::vector<int64_t>& values);
// Strides of a row-major shape.
std::vector<int64_t> strides_of(const Shape& s);

// a OP b with broadcasting, on integers.
template <typename F>
Tensor int_binary(const Tensor& a, const Tensor& b, F f) {
  const Shape out = broadcast_shapes(a.shape(), b.shape());
  const int r = out.ndim();
  auto aligned = [&](const Shape& s) {
    std::vector<int64_t> dims(r, 1);
    for (int i = 0; i < s.ndim(); ++i) dims[r - s.ndim() + i] = s[i];
    return Shape(dims);
  };
  const Shape as = aligned(a.shape()), bs = aligned(b.shape());
  const std::vector<int64_t> ast = strides_of(as), bst = strides_of(bs), ost = strides_of(out);
  const int64_t *pa = a.data<int64_t>(), *pb = b.data<int64_t>();
  std::vector<int64_t> values(out.numel());
  for (int64_t i = 0; i < out.numel(); ++i) {
    int64_t ia = 0, ib = 0;
    for (int d = 0; d < r; ++d) {
      const int64_t k = i / ost[d] % out[d];
      if (as[d] != 1) ia += k * ast[d];
      if (bs[d] != 1) ib += k * bst[d];
    }
    values[i] = f(pa[ia], pb[ib]);
  }
  return int_tensor(out, values);
}

// A floating-point tensor of integral values (indices fed as floats) as integers.
Tensor integral(const Tensor& t, const char* what);
// Input i as floating point, or as integers (naming `what`); throws for the other kind.
const Variable& floats(const Value& v, int i);
Tensor ints(const Value& v, int i, const char* what);
// An axis in [-rank, rank) as a dimension.
int axis_of(int64_t axis, int rank, const char* what = "axis");
// A tensor a node makes from sizes the graph gives (ConstantOfShape, Expand, Pad) holds at
// most 2^30 values (4 GiB of floats): checked before it is allocated.
void check_size(const Shape& s, const char* what);
Value reshaped(const Value& v, const Shape& s);
Value constant_value(const Tensor& t);

}  // namespace tide
