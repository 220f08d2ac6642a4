#include <fmt/format.h>

#include "tide/cli/commands.hpp"
#include "tide/convolve/image_filter.hpp"

namespace tide::cli {

void add_convolve_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "convolve", "Apply a fixed convolution kernel to an image (PNG or JPEG in, PNG out)");
  auto kernel = std::make_shared<std::string>("sharpen");
  auto in = std::make_shared<std::string>(), out = std::make_shared<std::string>();
  cmd->add_option("--kernel", *kernel,
                  "identity, sharpen, blur, edge, emboss, or rows \"a,b,c;d,e,f;g,h,i\"")
      ->capture_default_str();
  cmd->add_option("input", *in, "Input image")->required();
  cmd->add_option("output", *out, "Output PNG")->required();
  cmd->callback([kernel, in, out] {
    const Image result = filter_image(read_image(*in), parse_kernel(*kernel));
    write_png(*out, result);
    fmt::print("wrote {} ({}x{}, {} channels)\n", *out, result.width, result.height,
               result.channels);
  });
}

}  // namespace tide::cli
