#include "tide/autograd/ops_conv.hpp"

#include "tide/autograd/autocast.hpp"
#include "tide/autograd/dispatch.hpp"
#include "tide/autograd/ops_activation.hpp"
#include "tide/autograd/ops_pool.hpp"
#include "tide/kernels/conv.hpp"

namespace tide {
namespace {

// f32 goes to oneDNN, f64 to the reference loops; both have the same signatures.
void forward(float* y, const float* x, const float* w, const float* b, const ConvGeometry& g) {
  conv2d_forward(y, x, w, b, g);
}
void forward(double* y, const double* x, const double* w, const double* b, const ConvGeometry& g) {
  conv2d_forward_reference(y, x, w, b, g);
}
// dx (or null), dw and db (or null; dw null skips the weight pass) from dy.
void backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w,
              const ConvGeometry& g) {
  conv2d_backward(dx, dw, db, dy, x, w, g);
}
void backward(double* dx, double* dw, double* db, const double* dy, const double* x,
              const double* w, const ConvGeometry& g) {
  if (dx) conv2d_backward_data_reference(dx, dy, w, g);
  if (dw) conv2d_backward_weights_reference(dw, db, dy, x, g);
}

// The kernels' geometry for x, weight and bias, after checking that they fit together.
ConvGeometry conv_geometry(const Variable& x, const Variable& weight, const Variable& bias,
                           const Conv2dOptions& o) {
  const Tensor& xv = x.value();
  const Tensor& wv = weight.value();
  TIDE_CHECK(xv.ndim() == 4 && wv.ndim() == 4 && xv.dtype() == wv.dtype(),
             "conv2d: expected input (N, C, H, W) and weight (C_out, C_in/groups, KH, KW) of "
             "one dtype, got {} and {}",
             xv.str(), wv.str());
  ConvGeometry g;
  g.n = xv.dim(0), g.c_in = xv.dim(1), g.h = xv.dim(2), g.w = xv.dim(3);
  g.c_out = wv.dim(0), g.kh = wv.dim(2), g.kw = wv.dim(3);
  g.stride_h = o.stride[0], g.stride_w = o.stride[1];
  g.pad_h = o.padding[0], g.pad_w = o.padding[1];
  g.dilation_h = o.dilation[0], g.dilation_w = o.dilation[1];
  g.groups = o.groups;
  // The backward passes run in the geometry's precision too: they keep a copy of it.
  if (xv.dtype() == DType::f32) g.compute = precision_of(CastOp::conv2d);
  TIDE_CHECK(g.groups > 0 && g.c_in % g.groups == 0 && g.c_out % g.groups == 0 &&
                 wv.dim(1) * g.groups == g.c_in,
             "conv2d: input {} and weight {} do not match with {} groups", xv.str(), wv.str(),
             g.groups);
  TIDE_CHECK(g.stride_h > 0 && g.stride_w > 0 && g.dilation_h > 0 && g.dilation_w > 0 &&
                 g.pad_h >= 0 && g.pad_w >= 0,
             "conv2d: stride and dilation must be positive and padding non-negative");
  TIDE_CHECK(g.out_h() > 0 && g.out_w() > 0, "conv2d: kernel {}x{} does not fit input {}", g.kh,
             g.kw, xv.str());
  const bool has_bias = bias.defined();
  if (has_bias)
    TIDE_CHECK(bias.shape() == Shape({g.c_out}) && bias.dtype() == xv.dtype(),
               "conv2d: bias {} does not match {} output channels", bias.value().str(), g.c_out);
  return g;
}

// A padding mode other than zeros as explicit padding: the padded input and the options that
// convolve it with none.
bool pads_explicitly(const Conv2dOptions& o) {
  return o.padding_mode != PaddingMode::zeros && (o.padding[0] > 0 || o.padding[1] > 0);
}
Variable padded(const Variable& x, const Conv2dOptions& o, const char* op) {
  return pad2d(x, {o.padding[1], o.padding[1], o.padding[0], o.padding[0]}, o.padding_mode, op);
}
Conv2dOptions unpadded(Conv2dOptions o) {
  o.padding = {0, 0};
  o.padding_mode = PaddingMode::zeros;
  return o;
}

}  // namespace

Variable conv2d(const Variable& x, const Variable& weight, const Variable& bias,
                const Conv2dOptions& o) {
  if (pads_explicitly(o)) return conv2d(padded(x, o, "conv2d"), weight, bias, unpadded(o));
  const ConvGeometry g = conv_geometry(x, weight, bias, o);
  const Tensor& xv = x.value();
  const Tensor& wv = weight.value();
  const bool has_bias = bias.defined();
  Tensor y = Tensor::empty({g.n, g.c_out, g.out_h(), g.out_w()}, xv.dtype());
  dispatch_float(xv.dtype(), "conv2d", [&]<class T>(T) {
    forward(y.data<T>(), xv.data<T>(), wv.data<T>(), has_bias ? bias.value().data<T>() : nullptr,
            g);
  });
  std::vector<Variable> inputs{x, weight};
  if (has_bias) inputs.push_back(bias);
  return make_result(
      y, std::move(inputs),
      [xv, wv, g](const Tensor& dy, std::vector<Variable>& in) {
        const bool want_x = in[0].requires_grad();
        const bool want_bias = in.size() > 2 && in[2].requires_grad();
        const bool want_w = in[1].requires_grad() || want_bias;
        Tensor dx = want_x ? Tensor::empty(xv.shape(), dy.dtype()) : Tensor();
        Tensor dw = want_w ? in[1].new_grad() : Tensor();
        Tensor db = want_bias ? in[2].new_grad() : Tensor();
        dispatch_float(dy.dtype(), "conv2d backward", [&]<class T>(T) {
          backward(want_x ? dx.data<T>() : nullptr, want_w ? dw.data<T>() : nullptr,
                   want_bias ? db.data<T>() : nullptr, dy.data<T>(), xv.data<T>(), wv.data<T>(), g);
        });
        if (want_x) in[0].accumulate_grad(dx);
        if (want_w) in[1].accumulate_grad(dw);
        if (want_bias) in[2].accumulate_grad(db);
      },
      "conv2d");
}

Variable conv2d_relu_maxpool(const Variable& x, const Variable& weight, const Variable& bias,
                             const Conv2dOptions& conv_options, const Pool2dOptions& pool_options) {
  if (pads_explicitly(conv_options))
    return conv2d_relu_maxpool(padded(x, conv_options, "conv2d_relu_maxpool"), weight, bias,
                               unpadded(conv_options), pool_options);
  const ConvGeometry g = conv_geometry(x, weight, bias, conv_options);
  const PoolGeometry pg = pool_geometry(Shape({g.n, g.c_out, g.out_h(), g.out_w()}), pool_options,
                                        "conv2d_relu_maxpool");
  // The fused pipeline is oneDNN's plain max pooling; f64, ceil mode and dilation compose the
  // ops.
  if (x.dtype() != DType::f32 || pg.ceil_mode || pg.dilation_h != 1 || pg.dilation_w != 1)
    return max_pool2d(relu(conv2d(x, weight, bias, conv_options)), pool_options);
  const Tensor xv = x.value(), wv = weight.value();
  const bool has_bias = bias.defined();
  Tensor y = Tensor::empty({pg.n, pg.c, pg.out_h(), pg.out_w()});
  std::shared_ptr<ConvBlockRecord> record =
      conv_relu_maxpool_forward(y.data<float>(), xv.data<float>(), wv.data<float>(),
                                has_bias ? bias.value().data<float>() : nullptr, g, pg);
  std::vector<Variable> inputs{x, weight};
  if (has_bias) inputs.push_back(bias);
  return make_result(
      y, std::move(inputs),
      [xv, wv, g, record](const Tensor& dy, std::vector<Variable>& in) {
        const bool want_x = in[0].requires_grad();
        const bool want_bias = in.size() > 2 && in[2].requires_grad();
        Tensor dx = want_x ? Tensor::empty(xv.shape()) : Tensor();
        Tensor dw = in[1].new_grad();
        Tensor db = want_bias ? in[2].new_grad() : Tensor();
        conv_relu_maxpool_backward(want_x ? dx.data<float>() : nullptr, dw.data<float>(),
                                   want_bias ? db.data<float>() : nullptr, dy.data<float>(),
                                   xv.data<float>(), wv.data<float>(), *record, g);
        if (want_x) in[0].accumulate_grad(dx);
        in[1].accumulate_grad(dw);
        if (want_bias) in[2].accumulate_grad(db);
      },
      "conv2d_relu_maxpool");
}

}  // namespace tide
