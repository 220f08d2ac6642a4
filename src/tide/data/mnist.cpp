#include "tide/data/mnist.hpp"

#include <filesystem>

#include "tide/data/idx.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;

std::string how_to_get(std::string_view dataset) {
  if (dataset == "fashion-mnist")
    return "install it with `apt-get install dataset-fashion-mnist` or pass --data-dir DIR";
  return "put the four MNIST IDX files (gzip or plain) in a directory and pass --data-dir DIR";
}

// The file `stem` or `stem.gz` in dir; throws saying how to get the data when neither exists.
std::string find_file(std::string_view dataset, const std::string& dir, const std::string& stem) {
  TIDE_CHECK(fs::is_directory(dir), "{} data not found: directory {} does not exist; {}", dataset,
             dir, how_to_get(dataset));
  for (const std::string& name : {stem, stem + ".gz"}) {
    const fs::path p = fs::path(dir) / name;
    if (fs::exists(p)) return p.string();
  }
  TIDE_FAIL("{} data not found: no {} or {}.gz in {}; {}", dataset, stem, stem, dir,
            how_to_get(dataset));
}

std::string prefix_of(Split split) {
  return split == Split::train ? "train" : "t10k";
}

}  // namespace

Normalization default_normalization(std::string_view dataset) {
  if (dataset == "fashion-mnist") return {0.2860f, 0.3530f};
  if (dataset == "mnist") return {0.1307f, 0.3081f};
  TIDE_FAIL("unknown dataset '{}'; expected fashion-mnist or mnist", dataset);
}

std::string default_data_dir(std::string_view dataset) {
  default_normalization(dataset);  // rejects unknown names
  return "/usr/share/datasets/" + std::string(dataset);
}

std::string data_dir_or_default(std::string_view dataset, const std::string& data_dir) {
  if (!data_dir.empty() || (dataset != "fashion-mnist" && dataset != "mnist")) return data_dir;
  return default_data_dir(dataset);
}

std::string mnist_images_path(std::string_view dataset, const std::string& dir, Split split) {
  return find_file(dataset, dir, prefix_of(split) + "-images-idx3-ubyte");
}

TensorDataset load_mnist(std::string_view dataset, const std::string& dir, Split split) {
  const Normalization norm = default_normalization(dataset);
  const std::string images_path = mnist_images_path(dataset, dir, split);
  const std::string labels_path = find_file(dataset, dir, prefix_of(split) + "-labels-idx1-ubyte");
  const IdxArray images = read_idx(images_path);
  const IdxArray labels = read_idx(labels_path);
  TIDE_CHECK(images.dims.size() == 3, "{}: expected 3 dimensions (N, H, W), found {}", images_path,
             images.dims.size());
  TIDE_CHECK(labels.dims.size() == 1, "{}: expected 1 dimension (N), found {}", labels_path,
             labels.dims.size());
  const int64_t n = images.dims[0], h = images.dims[1], w = images.dims[2];
  TIDE_CHECK(n > 0 && h > 0 && w > 0,
             "{}: the header declares {} images of {}x{} pixels; expected at least one image of "
             "at least 1x1",
             images_path, n, h, w);
  TIDE_CHECK(labels.dims[0] == n, "{} holds {} images but {} holds {} labels", images_path, n,
             labels_path, labels.dims[0]);

  Tensor inputs = Tensor::empty({n, 1, h, w});
  float* x = inputs.data<float>();
  const float scale = 1.0f / (255.0f * norm.stddev), shift = norm.mean / norm.stddev;
  for (size_t i = 0; i < images.data.size(); ++i) x[i] = images.data[i] * scale - shift;
  Tensor targets = Tensor::empty({n}, DType::i64);
  int64_t* y = targets.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t label = labels.data[static_cast<size_t>(i)];
    TIDE_CHECK(label < 10, "{}: label {} of example {} is outside 0..9", labels_path, label, i);
    y[i] = label;
  }
  return TensorDataset(std::move(inputs), std::move(targets));
}

}  // namespace tide
