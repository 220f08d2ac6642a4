// Fixed-kernel image filtering (`tide convolve`): sharpen, blur, edge detection, emboss or a
// kernel of the user's, applied per channel with clamped edges through the conv2d op.
#pragma once

#include <string>
#include <vector>

#include "tide/data/image_io.hpp"

namespace tide {

// A square kernel, row-major.
struct FilterKernel {
  int64_t size = 3;
  std::vector<float> weights;
};

// "identity", "sharpen" (0,-1,0 / -1,5,-1 / 0,-1,0), "blur" (box, 1/9), "edge" (Laplacian
// -1 with 8 in the middle), "emboss", or rows "a,b,c;d,e,f;g,h,i" (square, odd size).
// Throws naming the specification when it is neither.
FilterKernel parse_kernel(const std::string& spec);

// Convolves each colour channel with the kernel (edges clamped: outside pixels repeat the
// border), rounds and clamps to [0, 255]; an alpha channel is kept as it is.
Image filter_image(const Image& image, const FilterKernel& kernel);

}  // namespace tide
