// TensorBoard summaries and `tide plot` as a user meets them: the event file of a short run,
// read back by an independent reader, holds the scalars metrics.csv shows; `tide plot`
// draws runs into a PNG and names what is wrong with bad input.
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/testing.hpp"
#include "tide/data/image_io.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const std::string kTide = std::string(TIDE_BINARY_DIR) + "/tide";

std::string fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("tide_summaries_" + name);
  fs::remove_all(d);
  return d.string();
}

std::string event_file(const std::string& dir) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0)
      return e.path().string();
  return "";
}

nlohmann::json read_events(const std::string& path, int* status = nullptr) {
  const auto r = testing::run_command("/usr/bin/python3 " + std::string(TIDE_SOURCE_DIR) +
                                      "/tests/report/read_events.py " + path);
  if (status) *status = r.status;
  return r.status == 0 ? nlohmann::json::parse(r.out) : nlohmann::json{{"error", r.out}};
}

// metrics.csv rows as (split, step) -> (loss, accuracy).
std::map<std::pair<std::string, int64_t>, std::pair<double, double>> metrics_rows(
    const std::string& dir) {
  std::ifstream in(dir + "/metrics.csv");
  std::string line;
  std::getline(in, line);
  std::map<std::pair<std::string, int64_t>, std::pair<double, double>> rows;
  while (std::getline(in, line)) {
    std::vector<std::string> c;
    std::stringstream s(line);
    for (std::string cell; std::getline(s, cell, ',');) c.push_back(cell);
    rows[{c[2], std::stoll(c[0])}] = {std::stod(c[3]), std::stod(c[4])};
  }
  return rows;
}

TEST(Summaries, EventFileHoldsTheScalarsOfMetricsCsv) {
  const std::string dir = fresh_dir("events");
  const auto r = testing::run_command(fmt::format(
      "{} train --max-steps 30 --log-every 10 --summary-every-steps 10 --threads 1 --lr 0.01 "
      "--lr-schedule constant --run-dir {}",
      kTide, dir));
  ASSERT_EQ(r.status, 0) << r.out;
  const std::string path = event_file(dir);
  ASSERT_FALSE(path.empty()) << "no event file in " << dir;
  const nlohmann::json events = read_events(path);
  ASSERT_FALSE(events.contains("error")) << events.dump();
  EXPECT_EQ(events["file_version"], "brain.Event:2");
  std::map<std::pair<std::string, int64_t>, double> scalar;
  for (const auto& s : events["scalars"]) scalar[{s["tag"], s["step"].get<int64_t>()}] = s["value"];
  const auto rows = metrics_rows(dir);
  for (int64_t step : {10, 20, 30}) {
    const auto& [loss, accuracy] = rows.at({"train", step});
    EXPECT_NEAR(scalar.at({"train/loss", step}), loss, 1e-5 * loss) << step;
    EXPECT_NEAR(scalar.at({"train/accuracy", step}), accuracy, 1e-5) << step;
    EXPECT_FLOAT_EQ(scalar.at({"lr", step}), 0.01f);
    EXPECT_GT(scalar.at({"samples_per_sec", step}), 0);
    EXPECT_GT(scalar.at({"train/grad_norm", step}), 0);
  }
  const auto& [test_loss, test_accuracy] = rows.at({"test", 30});
  EXPECT_NEAR(scalar.at({"test/loss", 30}), test_loss, 1e-5 * test_loss);
  EXPECT_NEAR(scalar.at({"test/accuracy", 30}), test_accuracy, 1e-6);
  EXPECT_EQ(scalar.size(), 3u * 5 + 2);

  // The reader checks the records' CRCs: a flipped byte is caught.
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(path) - 10));
    f.put('\x55');
  }
  int status = 0;
  read_events(path, &status);
  EXPECT_NE(status, 0);
}

TEST(Plot, DrawsRunsIntoAPngAndNamesBadInput) {
  const std::string a = fresh_dir("plot_a"), b = fresh_dir("plot_b");
  for (const auto& [dir, lr] : {std::pair{a, 0.01}, std::pair{b, 0.05}})
    ASSERT_EQ(testing::run_command(fmt::format("{} train --max-steps 40 --log-every 10 --lr {} "
                                               "--threads 1 --run-dir {}",
                                               kTide, lr, dir))
                  .status,
              0);
  const std::string png = fresh_dir("plot_out") + ".png";
  const auto r = testing::run_command(
      fmt::format("{} plot {} {} --metric accuracy --out {}", kTide, a, b, png));
  ASSERT_EQ(r.status, 0) << r.out;
  const Image image = read_image(png);
  EXPECT_EQ(image.width, 960);
  EXPECT_EQ(image.height, 600);

  auto error = [&](const std::string& args) {
    const auto e = testing::run_command(kTide + " plot " + args);
    EXPECT_NE(e.status, 0) << args;
    return e.out;
  };
  EXPECT_THAT(error(fmt::format("{} --metric speed --out {}", a, png)),
              HasSubstr("--metric speed: not a metric of metrics.csv"));
  EXPECT_THAT(error(fmt::format("{}/nothing --out {}", a, png)),
              HasSubstr("nothing/metrics.csv: cannot open"));
  EXPECT_THAT(error(fmt::format("{} --split test --x epoch --metric lr --out {}/x/y.png", a, a)),
              HasSubstr("gnuplot"));
  std::ofstream(a + "/metrics.csv", std::ios::app) << "50,0.05,train,abc,0.5,0.01,1,1,,\n";
  EXPECT_THAT(error(fmt::format("{} --out {}", a, png)),
              HasSubstr("metrics.csv: line 7: loss 'abc' is not a number"));
}

}  // namespace
}  // namespace tide
