// Tables of numbers as training data (`tide train --dataset csv`): a CSV of feature columns
// with a label column (classification) or target columns (regression).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tide/data/csv.hpp"
#include "tide/data/dataset.hpp"
#include "tide/session/config.hpp"
#include "tide/tensor/tensor.hpp"

namespace tide {

// Which columns a run learns from and how its features were standardised: what predicting
// from another table with the same columns needs.
struct TableSpec {
  Task task = Task::classification;
  std::vector<std::string> features, targets;
  std::vector<double> mean, stddev;  // per feature, over the training split
  // Feature j's value v as the network takes it, standardised by the training split.
  float standardised(double v, size_t j) const {
    return static_cast<float>((v - mean[j]) / stddev[j]);
  }
  std::vector<double> labels;  // classification: the label values, class 0 first
};

struct TableSplits {
  Tensor train_x, train_y, test_x, test_y;  // features f32 (N, F); labels i64 (N) or f32 (N, T)
  TableSpec spec;
  std::string train_path, test_path;
};

// --data-dir FILE holds every row and the last fifth are the test split; --data-dir DIR holds
// train.csv and test.csv. --target names the label column (classification) or the target
// columns (regression), by name or 1-based number; by default the last column. Every other
// column is a feature, standardised by the training split's mean and standard deviation (a
// constant column by 1). Classes are the distinct label values of the training split, in
// increasing order. Throws naming the file, line and column (read_csv's errors), a missing
// column, a test label the training split does not have, too few rows.
TableSplits load_table(const TrainConfig& config);

// The features of `table` for a model trained on `spec`'s columns (by name, in any order),
// standardised as in training: (N, F). Throws naming the file for a missing column.
Tensor table_features(const CsvTable& table, const TableSpec& spec);

// Its labels (i64 class indices) or targets (f32 (N, T)), as in training.
Tensor table_targets(const CsvTable& table, const TableSpec& spec);

// The test split of `path` as load_table makes it: DIR/test.csv, or the last fifth of FILE
// (all of FILE with `whole_file`).
CsvTable test_rows(const std::string& path, bool whole_file);

nlohmann::ordered_json to_json(const TableSpec& spec);
TableSpec table_spec_from_json(const nlohmann::json& j, const std::string& source);

}  // namespace tide
