#include "tide/classify/tabular.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include <fmt/ranges.h>

namespace tide {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxClasses = 100000;

// Rows [begin, end) of `t`, as a table of their own (for the held-out fifth of one file).
CsvTable rows_of(const CsvTable& t, int64_t begin, int64_t end) {
  CsvTable out{.path = t.path, .names = t.names, .columns = {}, .lines = {}};
  for (const auto& column : t.columns)
    out.columns.emplace_back(column.begin() + begin, column.begin() + end);
  out.lines.assign(t.lines.begin() + begin, t.lines.begin() + end);
  return out;
}

// The first row of one file's test split: its last fifth, at least one row.
int64_t test_start(const CsvTable& all) {
  TIDE_CHECK(all.rows() >= 2, "{}: {} row; a training and a test split need 2 or more", all.path,
             all.rows());
  return held_out_start(all.rows());
}

std::vector<std::string> target_columns(const TrainConfig& c, const CsvTable& t) {
  std::vector<std::string> out;
  if (c.target.empty()) return {t.names.back()};
  size_t start = 0;
  while (start <= c.target.size()) {
    size_t end = c.target.find(',', start);
    if (end == std::string::npos) end = c.target.size();
    out.push_back(t.names[t.index_of(c.target.substr(start, end - start))]);
    start = end + 1;
  }
  check_option(c.task == Task::regression || out.size() == 1, {"target", "task"},
               "{0} {} names {} columns; {1} classification learns one label column", c.target,
               out.size());
  return out;
}

Tensor features(const CsvTable& t, const TableSpec& spec) {
  const int64_t n = t.rows(), f = static_cast<int64_t>(spec.features.size());
  Tensor x = Tensor::empty({n, f});
  float* p = x.data<float>();
  for (int64_t j = 0; j < f; ++j) {
    const std::vector<double>& column = t.column(spec.features[static_cast<size_t>(j)]);
    for (int64_t i = 0; i < n; ++i)
      p[i * f + j] = spec.standardised(column[static_cast<size_t>(i)], static_cast<size_t>(j));
  }
  return x;
}

Tensor targets(const CsvTable& t, const TableSpec& spec) {
  const int64_t n = t.rows();
  if (spec.task == Task::classification) {
    Tensor y = Tensor::empty({n}, DType::i64);
    const std::vector<double>& column = t.column(spec.targets[0]);
    for (int64_t i = 0; i < n; ++i) {
      const double v = column[static_cast<size_t>(i)];
      const auto it = std::lower_bound(spec.labels.begin(), spec.labels.end(), v);
      TIDE_CHECK(it != spec.labels.end() && *it == v,
                 "{}:{}: label {} in column {} is not one of the training split's {} classes (a "
                 "file sorted by label leaves some classes to its last fifth, the test split: "
                 "shuffle its rows, or give a directory with train.csv and test.csv)",
                 t.path, t.lines[static_cast<size_t>(i)], v, spec.targets[0], spec.labels.size());
      y.data<int64_t>()[i] = it - spec.labels.begin();
    }
    return y;
  }
  const int64_t k = static_cast<int64_t>(spec.targets.size());
  Tensor y = Tensor::empty({n, k});
  for (int64_t j = 0; j < k; ++j) {
    const std::vector<double>& column = t.column(spec.targets[static_cast<size_t>(j)]);
    for (int64_t i = 0; i < n; ++i)
      y.data<float>()[i * k + j] = static_cast<float>(column[static_cast<size_t>(i)]);
  }
  return y;
}

// The columns, standardisation and classes of a run, from its training split.
TableSpec spec_of(const TrainConfig& c, const CsvTable& train) {
  TableSpec s{.task = c.task,
              .features = {},
              .targets = target_columns(c, train),
              .mean = {},
              .stddev = {},
              .labels = {}};
  for (const std::string& name : train.names)
    if (std::find(s.targets.begin(), s.targets.end(), name) == s.targets.end())
      s.features.push_back(name);
  TIDE_CHECK(!s.features.empty(), "{}: every column is a target ({}); no feature is left",
             train.path, fmt::join(s.targets, ", "));
  for (const std::string& name : s.features) {
    const std::vector<double>& v = train.column(name);
    double mean = 0;
    for (const double x : v) mean += x / static_cast<double>(v.size());
    double var = 0;
    for (const double x : v) var += (x - mean) * (x - mean) / static_cast<double>(v.size());
    s.mean.push_back(mean);
    s.stddev.push_back(var > 0 && std::isfinite(var) ? std::sqrt(var) : 1.0);
  }
  if (c.task == Task::classification) {
    const std::vector<double>& labels = train.column(s.targets[0]);
    for (size_t i = 0; i < labels.size(); ++i)
      TIDE_CHECK(std::floor(labels[i]) == labels[i] && std::abs(labels[i]) < 9.0e15,
                 "{}:{}: label {} in column {} is not a whole number; classes are whole numbers "
                 "(is it a regression target? --task regression)",
                 train.path, train.lines[i], labels[i], s.targets[0]);
    const std::set<double> distinct(labels.begin(), labels.end());
    TIDE_CHECK(distinct.size() >= 2 && distinct.size() <= kMaxClasses,
               "{}: column {} holds {} distinct labels; a classifier needs 2 to {} (is it a "
               "regression target? --task regression)",
               train.path, s.targets[0], distinct.size(), kMaxClasses);
    s.labels.assign(distinct.begin(), distinct.end());
  }
  return s;
}

}  // namespace

TableSplits load_table(const TrainConfig& c) {
  check_option(!c.data_dir.empty(), {"dataset", "data_dir"},
               "{0} csv needs {1}: a CSV file (its last fifth is the test split), or a "
               "directory holding train.csv and test.csv");
  CsvTable train, test;
  if (fs::is_directory(c.data_dir)) {
    train = read_csv((fs::path(c.data_dir) / "train.csv").string());
    test = test_rows(c.data_dir, false);
    TIDE_CHECK(train.names == test.names, "the columns of {} [{}] and {} [{}] differ", train.path,
               fmt::join(train.names, ", "), test.path, fmt::join(test.names, ", "));
  } else {
    const CsvTable all = read_csv(c.data_dir);
    const int64_t first_test = test_start(all);
    train = rows_of(all, 0, first_test);
    test = rows_of(all, first_test, all.rows());
  }
  TableSplits out;
  out.spec = spec_of(c, train);
  out.train_x = features(train, out.spec);
  out.train_y = targets(train, out.spec);
  out.test_x = features(test, out.spec);
  out.test_y = targets(test, out.spec);
  out.train_path = train.path;
  out.test_path = test.path;
  return out;
}

Tensor table_features(const CsvTable& table, const TableSpec& spec) {
  for (const std::string& name : spec.features)
    TIDE_CHECK(std::find(table.names.begin(), table.names.end(), name) != table.names.end(),
               "{}: has no column {}, a feature of the model (it has {})", table.path, name,
               fmt::join(table.names, ", "));
  return features(table, spec);
}

Tensor table_targets(const CsvTable& table, const TableSpec& spec) {
  for (const std::string& name : spec.targets)
    TIDE_CHECK(std::find(table.names.begin(), table.names.end(), name) != table.names.end(),
               "{}: has no column {}, a target of the model (it has {})", table.path, name,
               fmt::join(table.names, ", "));
  return targets(table, spec);
}

CsvTable test_rows(const std::string& path, bool whole_file) {
  if (fs::is_directory(path)) return read_csv((fs::path(path) / "test.csv").string());
  CsvTable all = read_csv(path);
  if (whole_file) return all;
  return rows_of(all, test_start(all), all.rows());
}

nlohmann::ordered_json to_json(const TableSpec& s) {
  return {{"task", name_of(s.task)}, {"features", s.features}, {"targets", s.targets},
          {"mean", s.mean},          {"stddev", s.stddev},     {"labels", s.labels}};
}

TableSpec table_spec_from_json(const nlohmann::json& j, const std::string& source) {
  TableSpec s;
  try {
    s.task = parse_choice<Task>(j.at("task").get<std::string>(), "task");
    s.features = j.at("features").get<std::vector<std::string>>();
    s.targets = j.at("targets").get<std::vector<std::string>>();
    s.mean = j.at("mean").get<std::vector<double>>();
    s.stddev = j.at("stddev").get<std::vector<double>>();
    s.labels = j.at("labels").get<std::vector<double>>();
  } catch (const nlohmann::json::exception& e) {
    TIDE_FAIL("{}: its table is not what was expected: {}", source, e.what());
  }
  TIDE_CHECK(!s.features.empty() && s.mean.size() == s.features.size() &&
                 s.stddev.size() == s.features.size() && !s.targets.empty() &&
                 (s.task == Task::regression || s.labels.size() >= 2),
             "{}: its table needs a mean and stddev per feature, targets and (classifying) "
             "labels",
             source);
  for (const double v : s.stddev)
    TIDE_CHECK(v > 0 && std::isfinite(v), "{}: stddev must be positive, got {}", source, v);
  return s;
}

}  // namespace tide
