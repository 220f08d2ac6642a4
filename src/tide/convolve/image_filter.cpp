#include "tide/convolve/image_filter.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "tide/autograd/ops_conv.hpp"

namespace tide {

FilterKernel parse_kernel(const std::string& spec) {
  if (spec == "identity") return {3, {0, 0, 0, 0, 1, 0, 0, 0, 0}};
  if (spec == "sharpen") return {3, {0, -1, 0, -1, 5, -1, 0, -1, 0}};
  if (spec == "blur") return {3, std::vector<float>(9, 1.0f / 9.0f)};
  if (spec == "edge") return {3, {-1, -1, -1, -1, 8, -1, -1, -1, -1}};
  if (spec == "emboss") return {3, {-2, -1, 0, -1, 1, 1, 0, 1, 2}};
  std::vector<std::vector<float>> rows;
  std::stringstream rows_in(spec);
  std::string row;
  while (std::getline(rows_in, row, ';')) {
    std::vector<float> values;
    std::stringstream cells(row);
    std::string cell;
    while (std::getline(cells, cell, ',')) {
      try {
        size_t used = 0;
        values.push_back(std::stof(cell, &used));
        TIDE_CHECK(cell.find_first_not_of(" \t", used) == std::string::npos, "trailing text");
        TIDE_CHECK(std::isfinite(values.back()), "not finite");
      } catch (const std::exception&) {
        TIDE_FAIL(
            "kernel '{}': '{}' is not a number; expected identity, sharpen, blur, edge, "
            "emboss or rows like \"0,-1,0;-1,5,-1;0,-1,0\"",
            spec, cell);
      }
    }
    rows.push_back(std::move(values));
  }
  const size_t n = rows.size();
  bool square = n % 2 == 1;
  for (const auto& r : rows) square = square && r.size() == n;
  TIDE_CHECK(square,
             "kernel '{}': expected a square kernel of odd size, as rows separated by ';' "
             "of comma-separated numbers",
             spec);
  FilterKernel k{static_cast<int64_t>(n), {}};
  for (const auto& r : rows) k.weights.insert(k.weights.end(), r.begin(), r.end());
  return k;
}

Image filter_image(const Image& image, const FilterKernel& kernel) {
  const int64_t colour = image.channels == 4 ? 3 : image.channels, k = kernel.size, p = k / 2;
  const int64_t h = image.height, w = image.width, hp = h + 2 * p, wp = w + 2 * p;
  // (1, C, H + 2p, W + 2p) with the border repeated outwards.
  Tensor padded = Tensor::empty({1, colour, hp, wp});
  float* x = padded.data<float>();
  for (int64_t c = 0; c < colour; ++c)
    for (int64_t y = 0; y < hp; ++y)
      for (int64_t xx = 0; xx < wp; ++xx) {
        const int64_t sy = std::clamp<int64_t>(y - p, 0, h - 1),
                      sx = std::clamp<int64_t>(xx - p, 0, w - 1);
        x[(c * hp + y) * wp + xx] = image.pixels[(sy * w + sx) * image.channels + c];
      }
  // One kernel per channel: groups = channels.
  Tensor weight = Tensor::empty({colour, 1, k, k});
  for (int64_t c = 0; c < colour; ++c)
    std::copy(kernel.weights.begin(), kernel.weights.end(), weight.data<float>() + c * k * k);
  const Tensor out =
      conv2d(Variable(padded), Variable(weight), Variable(), {.groups = colour}).value();
  Image result = image;
  const float* y = out.data<float>();
  for (int64_t c = 0; c < colour; ++c)
    for (int64_t i = 0; i < h * w; ++i)
      result.pixels[i * image.channels + c] =
          static_cast<uint8_t>(std::clamp(std::lround(y[c * h * w + i]), 0L, 255L));
  return result;
}

}  // namespace tide
