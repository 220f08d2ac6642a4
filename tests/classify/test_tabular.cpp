// `tide train --dataset csv`: a classification and a regression of tables from the command
// line, with `tide predict` and `tide evaluate` on them, and bad tables as one clear line.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/testing.hpp"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kTide = std::string(TIDE_BINARY_DIR) + "/tide";
const std::string kMlp = std::string(TIDE_SOURCE_DIR) + "/examples/models/table_mlp.toml";

std::string read(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), {}};
}

class Tables : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("tide_tables_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  tide::testing::CommandResult run(const std::string& args) const {
    return tide::testing::run_command(kTide + " " + args);
  }
  std::string train(const fs::path& data, const std::string& extra) const {
    return "train --dataset csv --data-dir " + data.string() + " --model-file " + kMlp +
           " --run-dir " + (dir_ / "run").string() + " --threads 2 --resume never " + extra;
  }
  nlohmann::json summary() const {
    return nlohmann::json::parse(read(dir_ / "run" / "summary.json"));
  }
  fs::path dir_;
};

// Three blobs in four dimensions, labelled 1, 2 and 5 (class indices 0, 1, 2 in order);
// column a is on another scale (1000 + 100 x), so that only standardised features separate
// them as well as the others.
fs::path write_blobs(const fs::path& path) {
  std::mt19937 gen(3);
  std::normal_distribution<double> noise(0, 0.6);
  const double centres[3][4] = {{0, 0, 0, 0}, {2, 2, 0, -1}, {-2, 1, 2, 1}};
  const int labels[3] = {1, 2, 5};
  std::ofstream out(path);
  out << "a,b,c,d,species\n";
  for (int i = 0; i < 600; ++i) {
    const int k = i % 3;
    out << 1000 + 100 * (centres[k][0] + noise(gen)) << ",";
    for (int j = 1; j < 4; ++j) out << centres[k][j] + noise(gen) << ",";
    out << labels[k] << "\n";
  }
  return path;
}

TEST_F(Tables, AClassifierOfATableTrainsPredictsAndEvaluates) {
  const fs::path csv = write_blobs(dir_ / "blobs.csv");
  const auto r = run(train(csv, "--target species --epochs 10"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_GT(summary()["test_accuracy"].get<double>(), 0.9) << r.out;
  EXPECT_THAT(r.out, HasSubstr("480 training and 120 test examples"));
  const auto model = nlohmann::json::parse(read(dir_ / "run" / "model.json"));
  EXPECT_EQ(model["inputs"]["classes"], (std::vector<std::string>{"1", "2", "5"}));
  EXPECT_EQ(model["inputs"]["table"]["features"], (std::vector<std::string>{"a", "b", "c", "d"}));

  // The features are standardised as in training: predicting from a file with the columns in
  // another order gives the same classes.
  std::ofstream(dir_ / "rows.csv") << "d,c,b,a\n0,0,0,1000\n-1,0,2,1200\n1,2,1,800\n";
  const auto p =
      run("predict --model " + (dir_ / "run").string() + " " + (dir_ / "rows.csv").string());
  ASSERT_EQ(p.status, 0) << p.out;
  EXPECT_THAT(p.out, HasSubstr("input,class,index,1,2,5\n"));
  EXPECT_THAT(p.out, HasSubstr("rows.csv:2,1,0,"));
  EXPECT_THAT(p.out, HasSubstr("rows.csv:3,2,1,"));
  EXPECT_THAT(p.out, HasSubstr("rows.csv:4,5,2,"));

  const auto e = run("evaluate --model " + (dir_ / "run").string());
  ASSERT_EQ(e.status, 0) << e.out;
  const auto eval = nlohmann::json::parse(read(dir_ / "run" / "evaluation" / "evaluation.json"));
  EXPECT_EQ(eval["examples"], 120);
  EXPECT_DOUBLE_EQ(eval["accuracy"].get<double>(), summary()["test_accuracy"].get<double>());
}

TEST_F(Tables, ARegressionOfTwoTargetsReachesAnR2Near1) {
  std::mt19937 gen(4);
  std::uniform_real_distribution<double> u(-1, 1);
  std::normal_distribution<double> noise(0, 0.05);
  std::ofstream out(dir_ / "data.csv");
  out << "x1,x2,y,z\n";
  for (int i = 0; i < 800; ++i) {
    const double a = u(gen), b = u(gen);
    out << a << "," << b << "," << 3 * a - 2 * b + 10 + noise(gen) << "," << a * b + noise(gen)
        << "\n";
  }
  out.close();
  for (const char* loss : {"mse", "huber"}) {
    SCOPED_TRACE(loss);
    const auto r = run(train(dir_ / "data.csv", fmt::format("--task regression --target y,z "
                                                            "--loss {} --epochs 30",
                                                            loss)));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_THAT(r.out, HasSubstr("test rmse "));
    EXPECT_GT(summary()["test_r2"].get<double>(), 0.9) << r.out;
    EXPECT_LT(summary()["test_rmse"].get<double>(), 0.3) << r.out;
    EXPECT_TRUE(summary()["test_accuracy"].is_null());
    // metrics.csv: no accuracy; the last test row's RMSE and R² are the summary's.
    std::istringstream metrics(read(dir_ / "run" / "metrics.csv"));
    std::string line;
    std::getline(metrics, line);
    EXPECT_EQ(line, "step,epoch,split,loss,accuracy,lr,samples_per_sec,wall_s,rmse,r2");
    std::vector<std::string> test_row;
    while (std::getline(metrics, line)) {
      const std::vector<std::string> cells = tide::testing::csv_cells(line);
      ASSERT_EQ(cells.size(), 10u) << line;
      EXPECT_EQ(cells[4], "") << line;
      if (cells[2] == "test") test_row = cells;
    }
    ASSERT_FALSE(test_row.empty());
    EXPECT_NEAR(std::stod(test_row[8]), summary()["test_rmse"].get<double>(), 1e-5);
    EXPECT_NEAR(std::stod(test_row[9]), summary()["test_r2"].get<double>(), 1e-5);
  }
  std::ofstream(dir_ / "new.csv") << "x1,x2\n0.5,-0.5\n";
  const auto p =
      run("predict --model " + (dir_ / "run").string() + " " + (dir_ / "new.csv").string());
  ASSERT_EQ(p.status, 0) << p.out;
  const std::string rows = p.out.substr(p.out.find("input,y,z\n"));
  std::istringstream in(rows.substr(rows.find('\n') + 1));
  std::string name, y, z;
  std::getline(in, name, ',');
  std::getline(in, y, ',');
  std::getline(in, z);
  EXPECT_NEAR(std::stod(y), 12.5, 0.4);   // 3 * 0.5 - 2 * -0.5 + 10
  EXPECT_NEAR(std::stod(z), -0.25, 0.3);  // 0.5 * -0.5
  const auto e = run("evaluate --model " + (dir_ / "run").string());
  ASSERT_EQ(e.status, 0) << e.out;
  const auto eval = nlohmann::json::parse(read(dir_ / "run" / "evaluation" / "evaluation.json"));
  EXPECT_NEAR(eval["r2"].get<double>(), summary()["test_r2"].get<double>(), 1e-9);
}

TEST_F(Tables, BadTablesAndOptionsAreOneClearLine) {
  const auto expect_error = [&](const std::string& args, const std::string& needle) {
    const auto r = run(args);
    EXPECT_NE(r.status, 0) << r.out;
    EXPECT_THAT(r.out, HasSubstr(needle));
    EXPECT_THAT(r.out, Not(HasSubstr("internal error")));
  };
  const fs::path csv = write_blobs(dir_ / "blobs.csv");
  expect_error(train(csv, "--target genus"),
               "blobs.csv has no column 'genus'; its columns are a, b, c, d, species");
  expect_error("train --task regression --max-steps 1", "--task regression needs --dataset csv");
  expect_error(train(csv, "--task regression --loss cross-entropy"),
               "--loss cross-entropy does not fit --task regression");
  expect_error(train(csv, "--target species --label-smoothing 0.1 --task regression"),
               "--label-smoothing is for classification");
  expect_error(train(csv, "--target a,b"), "--target a,b names 2 columns");
  expect_error(train(csv, "--target species --noise 0.1"), "perturb images, not tables or arrays");
  std::ofstream(dir_ / "bad.csv") << "a,b,label\n1,2,0\n3,x,1\n4,5,0\n6,7,1\n8,9,0\n";
  expect_error(train(dir_ / "bad.csv", ""), "bad.csv: line 3, column 'b': 'x' is not a number");
  std::ofstream(dir_ / "one.csv") << "a,label\n1,0\n";
  expect_error(train(dir_ / "one.csv", ""), "one.csv: 1 row; a training and a test split need 2");
  std::ofstream(dir_ / "regress.csv") << "a,y\n1,0.5\n2,0.25\n3,0.125\n4,1.5\n5,2.5\n6,3.5\n";
  expect_error(train(dir_ / "regress.csv", ""),
               "regress.csv:2: label 0.5 in column y is not a whole number");
  fs::create_directories(dir_ / "split");
  std::ofstream(dir_ / "split" / "train.csv") << "a,label\n1,0\n2,1\n3,0\n";
  std::ofstream(dir_ / "split" / "test.csv") << "a,label\n1,0\n2,7\n";
  expect_error(train(dir_ / "split", ""),
               "test.csv:3: label 7 in column label is not one of the training split's 2 classes");
}

}  // namespace
