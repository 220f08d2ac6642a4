#include "tide/autograd/ops_norm.hpp"

#include "tide/autograd/dispatch.hpp"
#include "tide/kernels/norm.hpp"

namespace tide {
namespace {

template <class T>
const T* data_or_null(const Variable& v) {
  return v.defined() ? v.value().data<T>() : nullptr;
}

// The op's inputs: x, then weight and bias when defined; `weight` and `bias` are their
// positions in the list the backward closure receives, -1 when absent.
struct NormInputs {
  std::vector<Variable> list;
  int weight = -1, bias = -1;
};
NormInputs inputs_of(const Variable& x, const Variable& w, const Variable& b) {
  NormInputs r{{x}};
  for (auto [v, slot] : {std::pair{&w, &r.weight}, std::pair{&b, &r.bias}})
    if (v->defined()) {
      *slot = static_cast<int>(r.list.size());
      r.list.push_back(*v);
    }
  return r;
}

// Whether the input at `slot` is present and wants a gradient.
bool wants(const std::vector<Variable>& in, int slot) {
  return slot >= 0 && in[static_cast<size_t>(slot)].requires_grad();
}

void check_affine(const Variable& p, const Shape& expected, const Variable& x, const char* what) {
  if (p.defined())
    TIDE_CHECK(p.shape() == expected && p.dtype() == x.dtype(),
               "{}: parameter {} does not match input {} (expected {})", what, p.value().str(),
               x.value().str(), expected.str());
}

}  // namespace

Variable layer_norm(const Variable& x, int normalized_dims, const Variable& weight,
                    const Variable& bias, double eps) {
  const Shape& s = x.shape();
  TIDE_CHECK(normalized_dims >= 1 && normalized_dims <= s.ndim(),
             "layer_norm over the last {} dimensions of {}", normalized_dims, x.value().str());
  const Shape norm_shape(std::vector<int64_t>(s.dims().end() - normalized_dims, s.dims().end()));
  check_affine(weight, norm_shape, x, "layer_norm");
  check_affine(bias, norm_shape, x, "layer_norm");
  const int64_t cols = norm_shape.numel(), rows = cols > 0 ? x.numel() / cols : 0;
  Tensor y = Tensor::empty(s, x.dtype());
  Tensor mean = Tensor::empty({rows}, x.dtype()), var = Tensor::empty({rows}, x.dtype());
  dispatch_float(x.dtype(), "layer_norm", [&]<class T>(T) {
    layer_norm(y.data<T>(), mean.data<T>(), var.data<T>(), x.value().data<T>(),
               data_or_null<T>(weight), data_or_null<T>(bias), rows, cols, eps);
  });
  const NormInputs inputs = inputs_of(x, weight, bias);
  const int w_at = inputs.weight, b_at = inputs.bias;
  Tensor xv = x.value(), wv = weight.defined() ? weight.value() : Tensor();
  return make_result(
      y, inputs.list,
      [=](const Tensor& dy, std::vector<Variable>& in) {
        const bool need_w = wants(in, w_at), need_b = wants(in, b_at);
        Tensor dx = Tensor::empty(xv.shape(), dy.dtype());
        Tensor dw = need_w ? Tensor::empty(norm_shape, dy.dtype()) : Tensor();
        Tensor db = need_b ? Tensor::empty(norm_shape, dy.dtype()) : Tensor();
        dispatch_float(dy.dtype(), "layer_norm backward", [&]<class T>(T) {
          layer_norm_backward(dx.data<T>(), need_w ? dw.data<T>() : nullptr,
                              need_b ? db.data<T>() : nullptr, dy.data<T>(), xv.data<T>(),
                              wv.defined() ? wv.data<T>() : nullptr, mean.data<T>(), var.data<T>(),
                              rows, cols, eps);
        });
        if (in[0].requires_grad()) in[0].accumulate_grad(dx);
        if (need_w) in[w_at].accumulate_grad(dw);
        if (need_b) in[b_at].accumulate_grad(db);
      },
      "layer_norm");
}

Variable batch_norm(const Variable& x, const Variable& weight, const Variable& bias,
                    const Tensor& running_mean, const Tensor& running_var, bool training,
                    double momentum, double eps) {
  const Shape& s = x.shape();
  TIDE_CHECK(s.ndim() >= 2, "batch_norm: expected input (N, C, ...), got {}", x.value().str());
  const int64_t n = s[0], c = s[1], spatial = s.numel() / std::max<int64_t>(n * c, 1);
  check_affine(weight, Shape({c}), x, "batch_norm");
  check_affine(bias, Shape({c}), x, "batch_norm");
  const bool has_running = running_mean.defined();
  TIDE_CHECK(training || has_running, "batch_norm in evaluation mode needs running statistics");
  if (has_running)
    TIDE_CHECK(running_mean.shape() == Shape({c}) && running_var.shape() == Shape({c}),
               "batch_norm: running statistics {} and {} do not match {} channels",
               running_mean.str(), running_var.str(), c);
  TIDE_CHECK(!training || n * spatial > 1,
             "batch_norm in training needs more than one value per channel, got input {}",
             x.value().str());
  Tensor y = Tensor::empty(s, x.dtype());
  Tensor mean = Tensor::empty({c}, x.dtype()), var = Tensor::empty({c}, x.dtype());
  const BatchNormArgs args{
      .n = n, .c = c, .s = spatial, .training = training, .momentum = momentum, .eps = eps};
  dispatch_float(x.dtype(), "batch_norm", [&]<class T>(T) {
    batch_norm(y.data<T>(), mean.data<T>(), var.data<T>(),
               has_running ? running_mean.data<T>() : nullptr,
               has_running ? running_var.data<T>() : nullptr, x.value().data<T>(),
               data_or_null<T>(weight), data_or_null<T>(bias), args);
  });
  const NormInputs inputs = inputs_of(x, weight, bias);
  const int w_at = inputs.weight, b_at = inputs.bias;
  Tensor xv = x.value(), wv = weight.defined() ? weight.value() : Tensor();
  return make_result(
      y, inputs.list,
      [=](const Tensor& dy, std::vector<Variable>& in) {
        const bool need_w = wants(in, w_at), need_b = wants(in, b_at);
        const bool need_x = in[0].requires_grad();
        Tensor dx = need_x ? Tensor::empty(xv.shape(), dy.dtype()) : Tensor();
        Tensor dw = need_w ? Tensor::empty({c}, dy.dtype()) : Tensor();
        Tensor db = need_b ? Tensor::empty({c}, dy.dtype()) : Tensor();
        dispatch_float(dy.dtype(), "batch_norm backward", [&]<class T>(T) {
          batch_norm_backward(need_x ? dx.data<T>() : nullptr, need_w ? dw.data<T>() : nullptr,
                              need_b ? db.data<T>() : nullptr, dy.data<T>(), xv.data<T>(),
                              wv.defined() ? wv.data<T>() : nullptr, mean.data<T>(), var.data<T>(),
                              args);
        });
        if (need_x) in[0].accumulate_grad(dx);
        if (need_w) in[w_at].accumulate_grad(dw);
        if (need_b) in[b_at].accumulate_grad(db);
      },
      "batch_norm");
}

}  // namespace tide
