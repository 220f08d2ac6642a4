#include "tide/classify/datasets.hpp"

#include <filesystem>

#include <fmt/ranges.h>

#include "tide/classify/arrays.hpp"
#include "tide/data/augment.hpp"
#include "tide/data/image_folder.hpp"
#include "tide/data/mnist.hpp"

namespace tide {

namespace {

DataSplits load_splits(const TrainConfig& c) {
  if (c.dataset == "csv") {
    TableSplits t = load_table(c);
    const int64_t outputs = c.task == Task::classification
                                ? static_cast<int64_t>(t.spec.labels.size())
                                : static_cast<int64_t>(t.spec.targets.size());
    return {.train = std::make_shared<TensorDataset>(t.train_x, t.train_y),
            .test = std::make_shared<TensorDataset>(t.test_x, t.test_y),
            .classes = outputs,
            .train_plain = nullptr,
            .background = 0,
            .table = std::move(t.spec)};
  }
  if (c.dataset == "arrays") {
    ArraySplits a = load_arrays(c);
    return {
        .train = std::move(a.train), .test = std::move(a.test), .classes = a.outputs, .table = {}};
  }
  if (c.dataset != "folder") {
    const std::string dir = data_dir_or_default(c.dataset, c.data_dir);
    const Normalization n = default_normalization(c.dataset);
    auto train = std::make_shared<TensorDataset>(load_mnist(c.dataset, dir, Split::train));
    auto test = std::make_shared<TensorDataset>(load_mnist(c.dataset, dir, Split::test));
    // A model is built for the training images; test images of another size cannot be fed.
    const Shape a = train->sample_shape(), b = test->sample_shape();
    TIDE_CHECK(a == b, "the training images of {} are {}x{} but the test images of {} are {}x{}",
               mnist_images_path(c.dataset, dir, Split::train), a[1], a[2],
               mnist_images_path(c.dataset, dir, Split::test), b[1], b[2]);
    return {
        .train = train, .test = test, .classes = 10, .background = -n.mean / n.stddev, .table = {}};
  }
  namespace fs = std::filesystem;
  check_option(!c.data_dir.empty(), {"dataset", "data_dir"},
               "{0} folder needs {1} DIR holding DIR/train/<class>/ and DIR/val/<class>/ with "
               ".png or .jpg images");
  check_option(c.image_size >= 1 && c.image_size <= kMaxImageFolderSize, {"image_size"},
               "{0} must be in [1, {}], got {}", kMaxImageFolderSize, c.image_size);
  const fs::path root(c.data_dir);
  fs::path test_dir = root / "val";
  if (!fs::is_directory(test_dir)) test_dir = root / "test";
  TIDE_CHECK(fs::is_directory(root / "train") && fs::is_directory(test_dir),
             "{} must hold train/<class>/ and val/<class>/ (or test/<class>/) image folders",
             c.data_dir);
  ImageFolderOptions train_options{.image_size = c.image_size, .random_crop = true, .seed = c.seed};
  ImageFolderOptions test_options{.image_size = c.image_size};
  auto train = std::make_shared<ImageFolder>((root / "train").string(), train_options);
  auto test = std::make_shared<ImageFolder>(test_dir.string(), test_options);
  TIDE_CHECK(train->classes() == test->classes(), "the classes of {}/train [{}] and {} [{}] differ",
             c.data_dir, fmt::join(train->classes(), ", "), test_dir.string(),
             fmt::join(test->classes(), ", "));
  return {.train = train,
          .test = test,
          .classes = static_cast<int64_t>(train->classes().size()),
          .table = {}};
}

}  // namespace

DataSplits load_datasets(const TrainConfig& c) {
  check_option(!c.augment.any() || (c.dataset != "csv" && c.dataset != "arrays"), {"dataset"},
               "{0} {}: --noise, --shift, --crop, --flip and --erase perturb images, not tables "
               "or arrays",
               c.dataset);
  DataSplits d = load_splits(c);
  if (c.train_examples > 0) {
    check_option(c.train_examples <= d.train->size(), {"train_examples"},
                 "{0} {} is more than the {} training examples of {}", c.train_examples,
                 d.train->size(), c.dataset);
    d.train = std::make_shared<PrefixDataset>(d.train, c.train_examples);
  }
  d.train_plain = d.train;
  if (c.augment.any()) {
    AugmentOptions a = c.augment;
    a.seed = c.seed;
    a.fill = d.background;
    try {
      d.train = std::make_shared<AugmentedDataset>(d.train, a);
    } catch (const OptionError& e) {  // the options of TrainConfig::augment
      throw e.prefixed("augment.");
    }
  }
  return d;
}

}  // namespace tide
