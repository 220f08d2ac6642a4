#include "tide/autograd/ops_pad.hpp"

#include <algorithm>
#include <vector>

#include "tide/autograd/dispatch.hpp"
#include "tide/kernels/parallel.hpp"

namespace tide {
namespace {

// For each output position along one axis, the input position it copies, or -1 for a zero.
// Every mode is such a map, so forward gathers through it and backward adds back through it.
std::vector<int64_t> source_of(int64_t size, int64_t before, int64_t after, PaddingMode mode) {
  std::vector<int64_t> src(static_cast<size_t>(before + size + after));
  for (int64_t o = 0; o < before + size + after; ++o) {
    const int64_t i = o - before;
    int64_t s = i;
    if (i < 0 || i >= size) switch (mode) {
        case PaddingMode::zeros:
          s = -1;
          break;
        case PaddingMode::reflect:
          s = i < 0 ? -i : 2 * (size - 1) - i;
          break;
        case PaddingMode::replicate:
          s = std::clamp<int64_t>(i, 0, size - 1);
          break;
        case PaddingMode::circular:
          s = (i % size + size) % size;
          break;
      }
    src[static_cast<size_t>(o)] = s;
  }
  return src;
}

struct PadMaps {
  int64_t planes, h, w;
  std::vector<int64_t> rows, cols;  // source_of for H and W
};

// y (planes, OH, OW) from x (planes, H, W).
template <class T>
void gather(T* y, const T* x, const PadMaps& m) {
  const int64_t oh = static_cast<int64_t>(m.rows.size()), ow = static_cast<int64_t>(m.cols.size());
#pragma omp parallel for if (m.planes * oh * ow > kParallelGrain)
  for (int64_t p = 0; p < m.planes; ++p)
    for (int64_t oy = 0; oy < oh; ++oy) {
      T* out = y + (p * oh + oy) * ow;
      const int64_t iy = m.rows[static_cast<size_t>(oy)];
      const T* in = x + (p * m.h + iy) * m.w;
      for (int64_t ox = 0; ox < ow; ++ox) {
        const int64_t ix = m.cols[static_cast<size_t>(ox)];
        out[ox] = iy < 0 || ix < 0 ? T(0) : in[ix];
      }
    }
}

// dx (planes, H, W) = the sum of dy over the output positions that copied each input element.
template <class T>
void scatter(T* dx, const T* dy, const PadMaps& m) {
  const int64_t oh = static_cast<int64_t>(m.rows.size()), ow = static_cast<int64_t>(m.cols.size());
#pragma omp parallel for if (m.planes * oh * ow > kParallelGrain)
  for (int64_t p = 0; p < m.planes; ++p) {
    T* out = dx + p * m.h * m.w;
    std::fill(out, out + m.h * m.w, T(0));
    for (int64_t oy = 0; oy < oh; ++oy) {
      const int64_t iy = m.rows[static_cast<size_t>(oy)];
      if (iy < 0) continue;
      const T* g = dy + (p * oh + oy) * ow;
      for (int64_t ox = 0; ox < ow; ++ox)
        if (const int64_t ix = m.cols[static_cast<size_t>(ox)]; ix >= 0)
          out[iy * m.w + ix] += g[ox];
    }
  }
}

void check_padding(const Shape& x, const std::array<int64_t, 4>& pad, PaddingMode mode,
                   const char* op) {
  const auto text = [&] { return fmt::format("({}, {}, {}, {})", pad[0], pad[1], pad[2], pad[3]); };
  TIDE_CHECK(x.ndim() == 4, "{}: expected input (N, C, H, W), got {}", op, x.str());
  TIDE_CHECK(std::all_of(pad.begin(), pad.end(), [](int64_t p) { return p >= 0; }),
             "{}: padding {} must not be negative", op, text());
  for (int axis = 0; axis < 2; ++axis) {
    const int64_t size = x[3 - axis], before = pad[2 * axis], after = pad[2 * axis + 1];
    if (before == 0 && after == 0) continue;
    const char* dim = axis == 0 ? "width" : "height";
    if (mode == PaddingMode::reflect)
      TIDE_CHECK(before < size && after < size,
                 "{}: reflect padding {} must be smaller than the input's {} {} (input {})", op,
                 text(), dim, size, x.str());
    if (mode == PaddingMode::circular)
      TIDE_CHECK(before <= size && after <= size,
                 "{}: circular padding {} must be at most the input's {} {} (input {})", op, text(),
                 dim, size, x.str());
    if (mode == PaddingMode::replicate)
      TIDE_CHECK(size > 0, "{}: replicate padding {} of an empty {} (input {})", op, text(), dim,
                 x.str());
  }
}

}  // namespace

std::string_view padding_mode_name(PaddingMode mode) {
  switch (mode) {
    case PaddingMode::zeros:
      return "zeros";
    case PaddingMode::reflect:
      return "reflect";
    case PaddingMode::replicate:
      return "replicate";
    case PaddingMode::circular:
      return "circular";
  }
  return "?";
}

Variable pad2d(const Variable& x, std::array<int64_t, 4> pad, PaddingMode mode, const char* op) {
  const Shape in_shape = x.shape();
  check_padding(in_shape, pad, mode, op);
  auto maps =
      std::make_shared<PadMaps>(PadMaps{.planes = in_shape[0] * in_shape[1],
                                        .h = in_shape[2],
                                        .w = in_shape[3],
                                        .rows = source_of(in_shape[2], pad[2], pad[3], mode),
                                        .cols = source_of(in_shape[3], pad[0], pad[1], mode)});
  const Shape out_shape{in_shape[0], in_shape[1], static_cast<int64_t>(maps->rows.size()),
                        static_cast<int64_t>(maps->cols.size())};
  Tensor y = Tensor::empty(out_shape, x.dtype());
  dispatch_float(x.dtype(), op,
                 [&]<class T>(T) { gather(y.data<T>(), x.value().data<T>(), *maps); });
  return make_result(
      y, {x},
      [maps, in_shape](const Tensor& dy, std::vector<Variable>& in) {
        Tensor dx = Tensor::empty(in_shape, dy.dtype());
        dispatch_float(dy.dtype(), "pad2d backward",
                       [&]<class T>(T) { scatter(dx.data<T>(), dy.data<T>(), *maps); });
        in[0].accumulate_grad(dx);
      },
      "pad2d");
}

}  // namespace tide
