// MNIST and Fashion-MNIST from their IDX files.
#pragma once

#include <string>
#include <string_view>

#include "tide/data/dataset.hpp"

namespace tide {

enum class Split { train, test };

// Pixel statistics after scaling to [0, 1], used to normalise inputs to mean 0, std 1.
struct Normalization {
  float mean = 0;
  float stddev = 1;
};

// "fashion-mnist": {0.2860, 0.3530}; "mnist": {0.1307, 0.3081}. Throws for other names.
Normalization default_normalization(std::string_view dataset);

// Where a dataset lives by default: /usr/share/datasets/<name> (for Fashion-MNIST, the
// Debian package dataset-fashion-mnist).
std::string default_data_dir(std::string_view dataset);
// `data_dir` if given, else the default of the IDX datasets above; empty for any other dataset
// (folder, csv, arrays), whose loader asks for the path.
std::string data_dir_or_default(std::string_view dataset, const std::string& data_dir);

// Loads {train,t10k}-images-idx3-ubyte[.gz] and {train,t10k}-labels-idx1-ubyte[.gz] from
// `dir`: inputs f32 (N, 1, H, W) = (pixel / 255 - mean) / stddev, targets i64 (N) in [0, 10).
// Throws naming the file for anything missing or inconsistent (no images, images of 0 rows
// or columns, labels that do not match the images), and says how to get the data.
TensorDataset load_mnist(std::string_view dataset, const std::string& dir, Split split);

// The images file load_mnist reads for `split`, for messages about its contents.
std::string mnist_images_path(std::string_view dataset, const std::string& dir, Split split);

}  // namespace tide
