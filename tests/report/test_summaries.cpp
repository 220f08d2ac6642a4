// TensorBoard summaries and `tide plot` as a user meets them: the event file of a short run,
// read back by an independent reader, holds the scalars metrics.csv shows; `tide plot`
// draws runs into a PNG and names what is wrong with bad input.
#include <algorithm>
#include <cmath>
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
#include "tide/report/event_writer.hpp"
#include "tide/tensor/safetensors.hpp"

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

// The edges of a histogram, read back by the independent reader: nothing, only NaN, all
// equal, infinities, values whose difference overflows, and where a value on a bucket's edge
// goes ((left, right], the first from min itself).
TEST(Summaries, HistogramsOfEmptyConstantAndExtremeValues) {
  const std::string dir = fresh_dir("histogram_edges");
  fs::create_directories(dir);
  {
    EventWriter w(dir);
    const double nan = std::nan("");
    const std::vector<std::vector<double>> cases = {
        {}, {nan}, {1, 1, 1}, {-INFINITY, 1, 2}, {-1e308, 1e308}, {0, 0.5, 1}};
    for (size_t i = 0; i < cases.size(); ++i)
      w.histogram("h", static_cast<int64_t>(i), cases[i].data(),
                  static_cast<int64_t>(cases[i].size()), 2);
    const std::vector<float> f = {3, 1, 2};
    w.histogram("f32", 0, f.data(), 3, 2);
  }
  const nlohmann::json events = read_events(event_file(dir));
  ASSERT_FALSE(events.contains("error")) << events.dump();
  ASSERT_EQ(events["histograms"].size(), 7u);
  auto at = [&](size_t i) { return events["histograms"][i]; };
  for (size_t i : {0u, 1u}) {  // nothing finite: no values, one empty bucket
    EXPECT_EQ(at(i)["num"], 0) << i;
    EXPECT_EQ(at(i)["counts"], nlohmann::json({0.0})) << i;
  }
  EXPECT_EQ(at(2)["num"], 3);
  EXPECT_EQ(at(2)["limits"], nlohmann::json({1.0}));
  EXPECT_EQ(at(2)["counts"], nlohmann::json({3.0}));
  EXPECT_EQ(at(3)["num"], 2);  // the infinity left out
  EXPECT_EQ(at(3)["min"], 1);
  EXPECT_EQ(at(3)["counts"], nlohmann::json({1.0, 1.0}));
  EXPECT_EQ(at(4)["limits"], nlohmann::json({0.0, 1e308}));
  EXPECT_EQ(at(4)["sum_squares"], "inf");  // as it is
  EXPECT_EQ(at(4)["counts"], nlohmann::json({1.0, 1.0}));
  EXPECT_EQ(at(5)["limits"], nlohmann::json({0.5, 1.0}));
  EXPECT_EQ(at(5)["counts"], nlohmann::json({2.0, 1.0}));
  EXPECT_EQ(at(5)["sum"], 1.5);
  EXPECT_EQ(at(5)["sum_squares"], 1.25);
  EXPECT_EQ(at(6)["tag"], "f32");
  EXPECT_EQ(at(6)["limits"], nlohmann::json({2.0, 3.0}));
  EXPECT_EQ(at(6)["counts"], nlohmann::json({2.0, 1.0}));
}

// Histograms of every parameter and its gradient every --histogram-every-steps, read back
// by the independent reader: whole (counts add up to the elements), ordered, and at the last
// step exactly the final model's values; a resumed run's events start with a SessionLog
// START at its first step, so TensorBoard drops the stale points from there on.
TEST(Summaries, HistogramsOfWeightsAndGradientsAndTheSessionLogOfAResume) {
  const std::string dir = fresh_dir("histograms");
  auto train = [&](int steps) {
    return testing::run_command(fmt::format(
        "{} train --model mlp --hidden 32 --max-steps {} --summary-every-steps 0 "
        "--histogram-every-steps 10 --checkpoint-every-steps 10 --threads 1 --run-dir {}",
        kTide, steps, dir));
  };
  const auto first = train(20);
  ASSERT_EQ(first.status, 0) << first.out;
  const nlohmann::json events = read_events(event_file(dir));
  ASSERT_FALSE(events.contains("error")) << events.dump();
  for (const auto& s : events["scalars"])  // no step scalars; the evaluation's only
    EXPECT_EQ(s["tag"].get<std::string>().rfind("test/", 0), 0u) << s.dump();
  EXPECT_TRUE(events["session_logs"].empty());
  const TensorMap model = load_safetensors(dir + "/model.safetensors");
  std::map<std::pair<std::string, int64_t>, nlohmann::json> histograms;
  for (const auto& h : events["histograms"]) histograms[{h["tag"], h["step"].get<int64_t>()}] = h;
  EXPECT_EQ(histograms.size(), model.size() * 2 * 2);  // weights, gradients; steps 10, 20
  for (const auto& [name, tensor] : model) {
    for (const char* kind : {"weights/", "gradients/"})
      for (int64_t step : {10, 20}) {
        const nlohmann::json& h = histograms.at({kind + name, step});
        EXPECT_EQ(h["num"].get<double>(), static_cast<double>(tensor.numel())) << name;
        double total = 0;
        for (double c : h["counts"]) total += c;
        EXPECT_EQ(total, h["num"].get<double>()) << kind << name;
        const std::vector<double> limits = h["limits"];
        EXPECT_TRUE(std::is_sorted(limits.begin(), limits.end())) << kind << name;
        EXPECT_DOUBLE_EQ(limits.back(), h["max"].get<double>());
        EXPECT_LT(h["min"].get<double>(), h["max"].get<double>()) << kind << name;
      }
    // The last histogram of the weights is the model the run wrote.
    const nlohmann::json& last = histograms.at({"weights/" + name, 20});
    const float* v = tensor.data<float>();
    const auto [lo, hi] = std::minmax_element(v, v + tensor.numel());
    double sum = 0;
    for (int64_t i = 0; i < tensor.numel(); ++i) sum += v[i];
    EXPECT_EQ(last["min"].get<double>(), static_cast<double>(*lo)) << name;
    EXPECT_EQ(last["max"].get<double>(), static_cast<double>(*hi)) << name;
    EXPECT_NEAR(last["sum"].get<double>(), sum, 1e-6 * std::max(1.0, std::abs(sum))) << name;
  }

  const auto resumed = train(30);
  ASSERT_EQ(resumed.status, 0) << resumed.out;
  ASSERT_THAT(resumed.out, HasSubstr("resuming from"));
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0)
      files.push_back(e.path().string());
  ASSERT_EQ(files.size(), 2u) << "the resumed run writes a file of its own";
  int starts = 0;
  for (const std::string& f : files) {
    const nlohmann::json e = read_events(f);
    for (const auto& log : e["session_logs"]) {
      EXPECT_EQ(log["status"], 1);  // START
      EXPECT_EQ(log["step"], 21);   // the first step of the resumed run
      EXPECT_THAT(log["msg"].get<std::string>(), HasSubstr("resumed from"));
      ++starts;
    }
  }
  EXPECT_EQ(starts, 1);
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
