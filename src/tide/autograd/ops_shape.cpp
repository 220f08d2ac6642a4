#include "tide/autograd/ops_shape.hpp"

#include "tide/autograd/dispatch.hpp"
#include "tide/kernels/copy.hpp"

namespace tide {

Variable reshape(const Variable& x, Shape shape) {
  const Shape in_shape = x.shape();
  return make_result(
      x.value().reshape(std::move(shape)), {x},
      [in_shape](const Tensor& dy, std::vector<Variable>& in) {
        in[0].accumulate_grad(dy.reshape(in_shape));
      },
      "reshape");
}

Variable flatten(const Variable& x, int start_dim) {
  const Shape& s = x.shape();
  if (s.ndim() == 0) return reshape(x, {1});
  const int d = s.normalize_dim(start_dim);
  std::vector<int64_t> dims(s.dims().begin(), s.dims().begin() + d);
  dims.push_back(-1);
  return reshape(x, Shape(std::move(dims)));
}

}  // namespace tide

namespace tide {
namespace {

// Sizes around dimension d: (outer, size of d, inner).
struct Around {
  int64_t outer = 1, size = 1, inner = 1;
};
Around around(const Shape& s, int d) {
  Around a;
  for (int i = 0; i < s.ndim(); ++i) (i < d ? a.outer : i == d ? a.size : a.inner) *= s.dims()[i];
  return a;
}

// Copies x's elements [start, start + len) along dimension d into out (len along d), or
// the reverse when `into_x`: the one loop behind slice, concat and their backward passes.
void move_along(const Tensor& x, const Tensor& out, int d, int64_t start, bool into_x) {
  const Around ax = around(x.shape(), d), ao = around(out.shape(), d);
  dispatch_any(x.dtype(), [&]<class T>(T) {
    T* xp = x.data<T>() + start * ax.inner;
    T* op = out.data<T>();
    if (into_x)
      copy_blocks(xp, op, ax.outer, ao.size * ao.inner, ax.size * ax.inner, ao.size * ao.inner);
    else
      copy_blocks(op, xp, ax.outer, ao.size * ao.inner, ao.size * ao.inner, ax.size * ax.inner);
  });
}

// out = x reversed along dimension d: one block of `inner` elements per index.
void flip_along(const Tensor& out, const Tensor& x, int d) {
  const Around a = around(x.shape(), d);
  dispatch_any(x.dtype(), [&]<class T>(T) {
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    for (int64_t i = 0; i < a.size; ++i)
      copy_blocks(op + i * a.inner, xp + (a.size - 1 - i) * a.inner, a.outer, a.inner,
                  a.size * a.inner, a.size * a.inner);
  });
}

}  // namespace

Variable flip(const Variable& x, int dim) {
  const int d = x.shape().normalize_dim(dim);
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  flip_along(out, x.value(), d);
  return make_result(
      out, {x},
      [d](const Tensor& dy, std::vector<Variable>& in) {
        Tensor dx = Tensor::empty(dy.shape(), dy.dtype());
        flip_along(dx, dy, d);
        in[0].accumulate_grad(dx);
      },
      "flip");
}

Variable slice(const Variable& x, int dim, int64_t start, int64_t end) {
  const Shape& s = x.shape();
  const int d = s.normalize_dim(dim);
  TIDE_CHECK(0 <= start && start <= end && end <= s.dims()[d],
             "slice [{}, {}) of dimension {} is out of range for {}", start, end, d,
             x.value().str());
  Shape out_shape = s;
  out_shape[d] = end - start;
  Tensor out;
  if (d == 0) {  // rows of a row-major tensor: a view, no copy
    out = x.value().slice(start, end);
  } else {
    out = Tensor::empty(out_shape, x.dtype());
    move_along(x.value(), out, d, start, false);
  }
  return make_result(
      out, {x},
      [d, start](const Tensor& dy, std::vector<Variable>& in) {
        // Adds dy into its part of the input's gradient, without a full-size temporary.
        in[0].accumulate_grad_part([&](const Tensor& grad) {
          const Around ag = around(grad.shape(), d), ay = around(dy.shape(), d);
          dispatch_float(dy.dtype(), "slice backward", [&]<class T>(T) {
            add_blocks(grad.data<T>() + start * ag.inner, dy.data<T>(), ag.outer,
                       ay.size * ay.inner, ag.size * ag.inner, ay.size * ay.inner);
          });
        });
      },
      "slice");
}

std::vector<Variable> split(const Variable& x, const std::vector<int64_t>& sizes, int dim) {
  const int d = x.shape().normalize_dim(dim);
  int64_t total = 0;
  for (int64_t n : sizes) total += n;
  TIDE_CHECK(total == x.shape()[d], "split of {} along dimension {} into sizes summing to {}",
             x.value().str(), d, total);
  std::vector<Variable> out;
  int64_t start = 0;
  for (int64_t n : sizes) {
    out.push_back(slice(x, d, start, start + n));
    start += n;
  }
  return out;
}

Variable concat(const std::vector<Variable>& xs, int dim) {
  TIDE_CHECK(!xs.empty(), "concat of no tensors");
  const Shape& first = xs[0].shape();
  const int d = first.normalize_dim(dim);
  Shape out_shape = first;
  out_shape[d] = 0;
  for (const Variable& x : xs) {
    bool ok = x.dtype() == xs[0].dtype() && x.shape().ndim() == first.ndim();
    for (int i = 0; ok && i < first.ndim(); ++i) ok = i == d || x.shape()[i] == first[i];
    TIDE_CHECK(ok, "concat along dimension {}: {} does not match {}", d, x.value().str(),
               xs[0].value().str());
    out_shape[d] += x.shape()[d];
  }
  Tensor out = Tensor::empty(out_shape, xs[0].dtype());
  std::vector<int64_t> starts;
  int64_t start = 0;
  for (const Variable& x : xs) {
    move_along(out, x.value(), d, start, true);
    starts.push_back(start);
    start += x.shape()[d];
  }
  return make_result(
      out, xs,
      [d, starts](const Tensor& dy, std::vector<Variable>& in) {
        for (size_t i = 0; i < in.size(); ++i) {
          if (!in[i].requires_grad()) continue;
          Tensor dx = Tensor::empty(in[i].shape(), dy.dtype());
          move_along(dy, dx, d, starts[i], false);
          in[i].accumulate_grad(dx);
        }
      },
      "concat");
}

Variable permute(const Variable& x, const std::vector<int>& dims) {
  const Shape& s = x.shape();
  TIDE_CHECK(static_cast<int>(dims.size()) == s.ndim(), "permute of {} needs {} dimensions, got {}",
             x.value().str(), s.ndim(), dims.size());
  std::vector<int> perm(dims.size()), inverse(dims.size());
  std::vector<bool> seen(dims.size());
  std::vector<int64_t> out_dims(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    perm[i] = s.normalize_dim(dims[i]);
    TIDE_CHECK(!seen[perm[i]], "permute of {}: dimension {} given twice", x.value().str(), perm[i]);
    seen[perm[i]] = true;
    inverse[perm[i]] = static_cast<int>(i);
    out_dims[i] = s.dims()[perm[i]];
  }
  Tensor out = Tensor::empty(Shape(out_dims), x.dtype());
  dispatch_any(x.dtype(), [&]<class T>(T) {
    tide::permute(out.data<T>(), x.value().data<T>(), s.dims(), perm);
  });
  return make_result(
      out, {x},
      [s, out_dims, inverse](const Tensor& dy, std::vector<Variable>& in) {
        Tensor dx = Tensor::empty(s, dy.dtype());
        dispatch_any(dy.dtype(), [&]<class T>(T) {
          tide::permute(dx.data<T>(), dy.data<T>(), out_dims, inverse);
        });
        in[0].accumulate_grad(dx);
      },
      "permute");
}

Variable transpose(const Variable& x, int dim0, int dim1) {
  std::vector<int> dims(static_cast<size_t>(x.shape().ndim()));
  for (size_t i = 0; i < dims.size(); ++i) dims[i] = static_cast<int>(i);
  std::swap(dims[x.shape().normalize_dim(dim0)], dims[x.shape().normalize_dim(dim1)]);
  return permute(x, dims);
}

}  // namespace tide
