#include "tide/classify/arrays.hpp"

#include <cmath>
#include <filesystem>
#include <vector>

namespace tide {
namespace {

namespace fs = std::filesystem;

// A classifier has at most this many classes (as a table's).
constexpr int64_t kMaxClasses = 100000;

constexpr const char* kNames[] = {"x_train", "y_train", "x_test", "y_test", "x", "y"};

struct ArrayFiles {
  std::string path;
  bool directory = false;
  std::map<std::string, MappedArray> arrays;

  std::string where(const std::string& name) const {
    return directory ? (fs::path(path) / (name + ".npy")).string()
                     : fmt::format("{} (tensor '{}')", path, name);
  }
  bool has(const std::string& name) const { return arrays.count(name) > 0; }
  const MappedArray& at(const std::string& name) const {
    const auto it = arrays.find(name);
    TIDE_CHECK(it != arrays.end(),
               "{} is missing (the arrays of {} are x_train, y_train, x_test "
               "and y_test, or x and y)",
               where(name), path);
    return it->second;
  }
};

ArrayFiles open_arrays(const std::string& path) {
  ArrayFiles f{.path = path, .directory = fs::is_directory(path), .arrays = {}};
  if (f.directory) {
    for (const char* name : kNames)
      if (fs::exists(f.where(name))) f.arrays.emplace(name, open_npy(f.where(name)));
  } else {
    TIDE_CHECK(fs::is_regular_file(path), "{}: no such directory of .npy files or safetensors file",
               path);
    f.arrays = open_safetensors_arrays(path);
  }
  TIDE_CHECK(f.has("x_train") || f.has("x"),
             "{} holds neither {} nor {}: the training inputs (with y_train, x_test and y_test), "
             "or all inputs (with y; the last fifth is the test split)",
             path, f.where("x_train"), f.where("x"));
  return f;
}

void check_pair(const MappedArray& x, const MappedArray& y) {
  TIDE_CHECK(x.shape.ndim() >= 2,
             "{}: the inputs are {}; they need 2 or more dimensions (N, features...): reshape "
             "a single feature to (N, 1)",
             x.source, x.shape.str());
  TIDE_CHECK(x.row_elements() >= 1 && x.row_elements() <= (int64_t{1} << 30),
             "{}: the inputs are {}; one example must hold 1 to 2^30 values", x.source,
             x.shape.str());
  TIDE_CHECK(y.shape.ndim() >= 1 && y.rows() == x.rows(),
             "{}: {} targets (shape {}) for the {} inputs of {}", y.source,
             y.shape.ndim() == 0 ? 0 : y.rows(), y.shape.str(), x.rows(), x.source);
}

// Labels i64 (end - begin) of rows [begin, end) of y; `classes` 0: found from them (2 or more).
Tensor labels_of(const MappedArray& y, int64_t begin, int64_t end, int64_t& classes) {
  TIDE_CHECK(y.shape.ndim() == 1 || (y.shape.ndim() == 2 && y.shape[1] == 1),
             "{}: labels are {}; a classifier's are (N) or (N, 1) (targets of a regression? "
             "--task regression)",
             y.source, y.shape.str());
  std::vector<double> v(static_cast<size_t>(end - begin));
  y.convert(v.data(), begin, end - begin);
  const int64_t limit = classes > 0 ? classes : kMaxClasses;
  Tensor labels = Tensor::empty({end - begin}, DType::i64);
  int64_t top = 0;
  for (int64_t i = 0; i < end - begin; ++i) {
    const double l = v[static_cast<size_t>(i)];
    TIDE_CHECK(l >= 0 && l < static_cast<double>(limit) && l == std::floor(l),
               "{}: row {}: label {} is not a whole number 0 to {} ({}; targets of a "
               "regression? --task regression)",
               y.source, begin + i, l, limit - 1,
               classes > 0 ? "the classes of the training split" : "at most 100000 classes");
    labels.data<int64_t>()[i] = static_cast<int64_t>(l);
    top = std::max(top, static_cast<int64_t>(l));
  }
  if (classes == 0) {
    TIDE_CHECK(top >= 1, "{}: every training label is 0; a classifier needs 2 classes or more",
               y.source);
    classes = top + 1;
  }
  return labels;
}

// Targets f32 (end - begin, T) of rows [begin, end) of y (N) or (N, T).
Tensor targets_of(const MappedArray& y, int64_t begin, int64_t end, int64_t& outputs) {
  TIDE_CHECK(y.shape.ndim() <= 2, "{}: targets are {}; a regression's are (N) or (N, T)", y.source,
             y.shape.str());
  const int64_t t = y.row_elements();
  TIDE_CHECK(t >= 1 && (outputs == 0 || outputs == t), "{}: {} targets per row; the network has {}",
             y.source, t, outputs);
  outputs = t;
  Tensor out = Tensor::empty({end - begin, t});
  y.convert(out.data<float>(), begin * t, (end - begin) * t);
  const float* p = out.data<float>();
  for (int64_t i = 0; i < out.numel(); ++i)
    TIDE_CHECK(std::isfinite(p[i]), "{}: row {}: target {} is not finite", y.source, begin + i / t,
               p[i]);
  return out;
}

std::shared_ptr<ArrayDataset> split(const MappedArray& x, const MappedArray& y, int64_t begin,
                                    int64_t end, Task task, int64_t& outputs) {
  Tensor targets = task == Task::classification ? labels_of(y, begin, end, outputs)
                                                : targets_of(y, begin, end, outputs);
  return std::make_shared<ArrayDataset>(x, begin, end, std::move(targets));
}

}  // namespace

ArraySplits load_arrays(const TrainConfig& c) {
  check_option(!c.data_dir.empty(), {"dataset", "data_dir"},
               "{0} arrays needs {1}: a directory of x_train.npy, y_train.npy, x_test.npy and "
               "y_test.npy (or x.npy and y.npy), or a safetensors file of tensors so named");
  const ArrayFiles f = open_arrays(c.data_dir);
  ArraySplits s;
  if (f.has("x_train")) {
    const MappedArray &x = f.at("x_train"), &y = f.at("y_train");
    const MappedArray &xt = f.at("x_test"), &yt = f.at("y_test");
    check_pair(x, y);
    check_pair(xt, yt);
    const std::vector<int64_t> a(x.shape.dims().begin() + 1, x.shape.dims().end()),
        b(xt.shape.dims().begin() + 1, xt.shape.dims().end());
    TIDE_CHECK(a == b,
               "the training inputs {} are {} and the test inputs {} are {}: one "
               "example's shape must be the same",
               x.source, x.shape.str(), xt.source, xt.shape.str());
    TIDE_CHECK(x.rows() >= 1 && xt.rows() >= 1, "{} and {} need one example or more", x.source,
               xt.source);
    s.train = split(x, y, 0, x.rows(), c.task, s.outputs);
    s.test = split(xt, yt, 0, xt.rows(), c.task, s.outputs);
    s.train->expect_shuffled_access();
    return s;
  }
  const MappedArray &x = f.at("x"), &y = f.at("y");
  check_pair(x, y);
  TIDE_CHECK(x.rows() >= 2, "{}: {} example; a training and a test split need 2 or more", x.source,
             x.rows());
  const int64_t first_test = held_out_start(x.rows());
  s.train = split(x, y, 0, first_test, c.task, s.outputs);
  s.test = split(x, y, first_test, x.rows(), c.task, s.outputs);
  s.train->expect_shuffled_access();  // the test split keeps its readahead: read in order
  return s;
}

std::shared_ptr<ArrayDataset> array_test_split(const std::string& path, Task task, int64_t outputs,
                                               bool whole_file) {
  const ArrayFiles f = open_arrays(path);
  const bool separate = f.has("x_train");
  const MappedArray &x = f.at(separate ? "x_test" : "x"), &y = f.at(separate ? "y_test" : "y");
  check_pair(x, y);
  const int64_t begin = separate || whole_file ? 0 : held_out_start(x.rows());
  TIDE_CHECK(begin < x.rows(), "{}: no examples to evaluate (shape {})", x.source, x.shape.str());
  return split(x, y, begin, x.rows(), task, outputs);
}

}  // namespace tide
