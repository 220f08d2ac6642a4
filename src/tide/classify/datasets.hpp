// The training and test data of `tide train`, by --dataset.
#pragma once

#include <memory>

#include <optional>

#include "tide/classify/tabular.hpp"
#include "tide/data/dataset.hpp"
#include "tide/session/config.hpp"

namespace tide {

struct DataSplits {
  std::shared_ptr<Dataset> train, test;
  int64_t classes = 0;
  // The training examples without the perturbation of --noise, --shift, ... (what
  // --eval-train evaluates), and the value of a background pixel after normalisation.
  std::shared_ptr<Dataset> train_plain = nullptr;
  float background = 0;
  // csv: the columns and standardisation; `classes` is then the number of classes or, for
  // regression, of targets.
  std::optional<TableSpec> table;
};

// fashion-mnist, mnist: the IDX files in --data-dir (or the default location).
// csv: a table of features and a label or targets (tabular.hpp's load_table).
// arrays: .npy files or a safetensors file of inputs and targets (arrays.hpp's load_arrays).
// folder: --data-dir holds train/<class>/ and val/<class>/ (or test/<class>/) image folders
// with the same classes; training crops and flips at random, evaluation takes the centre.
// --train-examples keeps the first N training examples; --noise, --shift, --crop, --flip and
// --erase perturb them (data/augment.hpp), shifted-in and erased pixels set to the background.
DataSplits load_datasets(const TrainConfig& config);

}  // namespace tide
