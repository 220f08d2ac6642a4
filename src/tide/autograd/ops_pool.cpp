#include "tide/autograd/ops_pool.hpp"

#include "tide/autograd/dispatch.hpp"
#include "tide/kernels/pool.hpp"

namespace tide {

PoolGeometry pool_geometry(const Shape& x, const Pool2dOptions& o, const char* op) {
  TIDE_CHECK(x.ndim() == 4, "{}: expected input (N, C, H, W), got {}", op, x.str());
  PoolGeometry g;
  g.n = x[0], g.c = x[1], g.h = x[2], g.w = x[3];
  g.kh = o.kernel[0], g.kw = o.kernel[1];
  TIDE_CHECK(g.kh > 0 && g.kw > 0, "{}: kernel {}x{} must be positive", op, g.kh, g.kw);
  TIDE_CHECK(o.stride[0] >= 0 && o.stride[1] >= 0 && o.dilation[0] > 0 && o.dilation[1] > 0,
             "{}: stride {}x{} (0: the kernel) and dilation {}x{} must be positive", op,
             o.stride[0], o.stride[1], o.dilation[0], o.dilation[1]);
  g.stride_h = o.stride[0] > 0 ? o.stride[0] : g.kh;
  g.stride_w = o.stride[1] > 0 ? o.stride[1] : g.kw;
  g.pad_h = o.padding[0], g.pad_w = o.padding[1];
  g.dilation_h = o.dilation[0], g.dilation_w = o.dilation[1];
  g.ceil_mode = o.ceil_mode;
  g.count_include_pad = o.count_include_pad;
  TIDE_CHECK(g.pad_h >= 0 && g.pad_w >= 0 && 2 * g.pad_h <= g.kh && 2 * g.pad_w <= g.kw,
             "{}: kernel {}x{} with padding {}x{}: padding must be at most half the kernel", op,
             g.kh, g.kw, g.pad_h, g.pad_w);
  TIDE_CHECK(g.out_h() > 0 && g.out_w() > 0,
             "{}: kernel {}x{} (dilation {}x{}) with padding {}x{} does not fit input {}", op, g.kh,
             g.kw, g.dilation_h, g.dilation_w, g.pad_h, g.pad_w, x.str());
  return g;
}

Variable max_pool2d(const Variable& x, const Pool2dOptions& o) {
  const PoolGeometry g = pool_geometry(x.shape(), o, "max_pool2d");
  const Shape out_shape{g.n, g.c, g.out_h(), g.out_w()};
  Tensor y = Tensor::empty(out_shape, x.dtype());
  Tensor record;  // where each maximum came from, for backward (see kernels/pool.hpp)
  dispatch_float(x.dtype(), "max_pool2d", [&]<class T>(T) {
    record = Tensor::empty({(max_pool2d_record_bytes<T>(g) + 7) / 8}, DType::i64);
    max_pool2d(y.data<T>(), record.data<int64_t>(), x.value().data<T>(), g);
  });
  const Shape in_shape = x.shape();
  return make_result(
      y, {x},
      [record, g, in_shape](const Tensor& dy, std::vector<Variable>& in) {
        Tensor dx = Tensor::empty(in_shape, dy.dtype());
        dispatch_float(dy.dtype(), "max_pool2d backward", [&]<class T>(T) {
          max_pool2d_backward(dx.data<T>(), dy.data<T>(), record.data<int64_t>(), g);
        });
        in[0].accumulate_grad(dx);
      },
      "max_pool2d");
}

Variable avg_pool2d(const Variable& x, const Pool2dOptions& o) {
  TIDE_CHECK(o.dilation[0] == 1 && o.dilation[1] == 1,
             "avg_pool2d: dilation is for max pooling only (PyTorch's avg_pool2d has none), got "
             "{}x{}",
             o.dilation[0], o.dilation[1]);
  const PoolGeometry g = pool_geometry(x.shape(), o, "avg_pool2d");
  Tensor y = Tensor::empty({g.n, g.c, g.out_h(), g.out_w()}, x.dtype());
  dispatch_float(x.dtype(), "avg_pool2d",
                 [&]<class T>(T) { avg_pool2d(y.data<T>(), x.value().data<T>(), g); });
  const Shape in_shape = x.shape();
  return make_result(
      y, {x},
      [g, in_shape](const Tensor& dy, std::vector<Variable>& in) {
        Tensor dx = Tensor::empty(in_shape, dy.dtype());
        dispatch_float(dy.dtype(), "avg_pool2d backward",
                       [&]<class T>(T) { avg_pool2d_backward(dx.data<T>(), dy.data<T>(), g); });
        in[0].accumulate_grad(dx);
      },
      "avg_pool2d");
}

Variable adaptive_avg_pool2d(const Variable& x, int64_t out_h, int64_t out_w) {
  const Tensor& xv = x.value();
  TIDE_CHECK(xv.ndim() == 4 && out_h > 0 && out_w > 0,
             "adaptive_avg_pool2d: expected input (N, C, H, W) and a positive output size, got "
             "{} and {}x{}",
             xv.str(), out_h, out_w);
  const int64_t n = xv.dim(0), c = xv.dim(1), h = xv.dim(2), w = xv.dim(3);
  Tensor y = Tensor::empty({n, c, out_h, out_w}, xv.dtype());
  dispatch_float(xv.dtype(), "adaptive_avg_pool2d", [&]<class T>(T) {
    adaptive_avg_pool2d(y.data<T>(), xv.data<T>(), n, c, h, w, out_h, out_w);
  });
  return make_result(
      y, {x},
      [=](const Tensor& dy, std::vector<Variable>& in) {
        Tensor dx = Tensor::empty({n, c, h, w}, dy.dtype());
        dispatch_float(dy.dtype(), "adaptive_avg_pool2d backward", [&]<class T>(T) {
          adaptive_avg_pool2d_backward(dx.data<T>(), dy.data<T>(), n, c, h, w, out_h, out_w);
        });
        in[0].accumulate_grad(dx);
      },
      "adaptive_avg_pool2d");
}

}  // namespace tide
