// Arrays as training data (`tide train --dataset arrays`): inputs and targets in NumPy .npy
// files or a safetensors file, mapped rather than read (data/arrays.hpp).
#pragma once

#include <memory>
#include <string>

#include "tide/data/arrays.hpp"
#include "tide/session/config.hpp"

namespace tide {

struct ArraySplits {
  std::shared_ptr<ArrayDataset> train, test;
  // Classification: the number of classes (labels are 0 to classes - 1). Regression: the
  // number of targets.
  int64_t outputs = 0;
};

// --data-dir DIR holds x_train.npy, y_train.npy, x_test.npy and y_test.npy, or x.npy and y.npy
// whose last fifth is the test split; --data-dir FILE.safetensors holds tensors of the same
// names. x is (N, ...) of any numeric type, fed to the network as f32 as it is (no scaling).
// Classification: y is (N) or (N, 1) whole numbers 0 to K - 1, K >= 2 the classes of the
// training split. Regression: y is (N) or (N, T) targets. Throws naming the file or tensor and
// row: a missing array, rows of x and y that differ, inputs of train and test of different
// shapes, a label that is not a whole number in range, a target that is not finite.
ArraySplits load_arrays(const TrainConfig& config);

// The test split of --data-dir `path` as load_arrays makes it, for a model of `outputs`
// classes or targets; with `whole_file`, every row of x.npy and y.npy (or x and y).
std::shared_ptr<ArrayDataset> array_test_split(const std::string& path, Task task, int64_t outputs,
                                               bool whole_file);

}  // namespace tide
