#include "tide/autograd/ops_elementwise.hpp"

#include "tide/autograd/tensor_math.hpp"

namespace tide {
namespace {

// Records a broadcasting binary op whose input gradients are computed by `grads` from
// (dy, a, b) and then summed back to each input's shape. Only the inputs are kept for
// backward, not the output.
template <class Grads>
Variable binary_op(const Variable& a, const Variable& b, BinaryOp op, const char* name,
                   Grads grads) {
  Tensor av = a.value(), bv = b.value();
  return make_result(
      binary_tensor(av, bv, op), {a, b},
      [=](const Tensor& dy, std::vector<Variable>& in) {
        auto [da, db] = grads(dy, av, bv, in[0].requires_grad(), in[1].requires_grad());
        if (in[0].requires_grad()) in[0].accumulate_grad(reduce_to_shape(da, av.shape()));
        if (in[1].requires_grad()) in[1].accumulate_grad(reduce_to_shape(db, bv.shape()));
      },
      name);
}

}  // namespace

Variable add(const Variable& a, const Variable& b) {
  return binary_op(a, b, BinaryOp::add, "add",
                   [](const Tensor& dy, auto&, auto&, bool, bool) {
                     return std::pair{dy, dy};
                   });
}

Variable sub(const Variable& a, const Variable& b) {
  return binary_op(a, b, BinaryOp::sub, "sub",
                   [](const Tensor& dy, auto&, auto&, bool, bool need_b) {
                     return std::pair{dy, need_b ? affine_tensor(dy, -1.0, 0.0) : Tensor()};
                   });
}

Variable mul(const Variable& a, const Variable& b) {
  return binary_op(
      a, b, BinaryOp::mul, "mul",
      [](const Tensor& dy, const Tensor& av, const Tensor& bv, bool need_a, bool need_b) {
        return std::pair{need_a ? binary_tensor(dy, bv, BinaryOp::mul) : Tensor(),
                         need_b ? binary_tensor(dy, av, BinaryOp::mul) : Tensor()};
      });
}

Variable div(const Variable& a, const Variable& b) {
  // d(a/b)/da = 1/b; d(a/b)/db = -a/b^2, computed as -((dy a) / b) / b.
  return binary_op(
      a, b, BinaryOp::div, "div",
      [](const Tensor& dy, const Tensor& av, const Tensor& bv, bool need_a, bool need_b) {
        Tensor da = need_a ? binary_tensor(dy, bv, BinaryOp::div) : Tensor();
        Tensor db;
        if (need_b) {
          const Tensor dy_a_b = binary_tensor(binary_tensor(dy, av, BinaryOp::mul), bv, BinaryOp::div);
          db = affine_tensor(binary_tensor(dy_a_b, bv, BinaryOp::div), -1.0, 0.0);
        }
        return std::pair{da, db};
      });
}

Variable affine(const Variable& a, double alpha, double beta) {
  return make_result(
      affine_tensor(a.value(), alpha, beta), {a},
      [alpha](const Tensor& dy, std::vector<Variable>& in) {
        in[0].accumulate_grad(affine_tensor(dy, alpha, 0.0));
      },
      "affine");
}

}  // namespace tide
