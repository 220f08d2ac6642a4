#include <algorithm>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tide/cli/commands.hpp"
#include "tide/core/error.hpp"
#include "tide/data/csv.hpp"
#include "tide/fit/fit.hpp"
#include "tide/report/files.hpp"
#include "tide/report/plot.hpp"

namespace tide::cli {
namespace {

namespace fs = std::filesystem;

struct FitArgs {
  FitOptions options;
  std::string data, x, y, out, degrees;
  double validation = 0.3;
  bool no_scale = false;
};

std::string default_out(const std::string& model) {
  return fmt::format("runs/fit-{}-{}", model, local_time_stamp());
}

// "A-B" or "A" as a range of degrees.
std::pair<int64_t, int64_t> degree_range(const std::string& s) {
  const size_t dash = s.find('-');
  try {
    size_t used = 0;
    const int64_t a = std::stoll(s.substr(0, dash), &used);
    TIDE_CHECK(used == (dash == std::string::npos ? s.size() : dash), "");
    if (dash == std::string::npos) return {a, a};
    const std::string rest = s.substr(dash + 1);
    const int64_t b = std::stoll(rest, &used);
    TIDE_CHECK(used == rest.size(), "");
    return {a, b};
  } catch (const std::exception&) {
    TIDE_FAIL("--degrees must be a range such as 1-15, got '{}'", s);
  }
}

// The output directory, made only once the work has succeeded.
std::string make_out(const FitArgs& a) {
  const std::string out = a.out.empty() ? default_out(a.options.model) : a.out;
  create_directory(out, "output directory");
  return out;
}

// The input columns (x, n rows of d) and the output column, checked against each other.
struct Columns {
  std::vector<std::string> x_names;
  std::string y_name;
  std::vector<double> x, y;
  int64_t d = 1;
};

Columns columns_of(const FitArgs& a, const CsvTable& table) {
  Columns c;
  c.x_names = a.x.empty() ? std::vector<std::string>{table.names.front()} : split_list(a.x);
  c.y_name = a.y.empty() ? table.names.back() : a.y;
  TIDE_CHECK(table.names.size() >= 2 || !a.x.empty() || !a.y.empty(),
             "{} has one column ({}): give the input and output columns with --x and --y", a.data,
             table.names.front());
  const size_t y_index = table.index_of(c.y_name);
  c.d = static_cast<int64_t>(c.x_names.size());
  c.x.resize(static_cast<size_t>(table.rows() * c.d));
  for (int64_t j = 0; j < c.d; ++j) {
    const size_t index = table.index_of(c.x_names[static_cast<size_t>(j)]);
    TIDE_CHECK(index != y_index, "--x {} and --y {} are the same column of {}",
               c.x_names[static_cast<size_t>(j)], c.y_name, a.data);
    for (int64_t i = 0; i < table.rows(); ++i)
      c.x[static_cast<size_t>(i * c.d + j)] = table.columns[index][static_cast<size_t>(i)];
  }
  c.y = table.columns[y_index];
  return c;
}

void run_capacity(const FitArgs& a, const CsvTable& table) {
  const auto [first, last] = degree_range(a.degrees);
  const FitOptions& o = a.options;
  const Columns c = columns_of(a, table);
  TIDE_CHECK(c.d == 1, "--degrees fits polynomials of one input; --x names {}", c.d);
  check_fit_data(c.x, c.d, c.y, o, {a.data, table.lines, c.x_names, c.y_name});
  const CapacityResult result = fit_degrees(c.x, c.y, first, last, a.validation, o);
  const std::string out = make_out(a);
  fmt::print("{} points: {} for fitting, {} held out (--validation {})\n", table.rows(),
             result.train_rows, result.validation_rows, a.validation);
  fmt::print("degree  train MSE      validation MSE\n");
  Series train{.label = "train", .points = {}}, validation{.label = "validation", .points = {}};
  nlohmann::ordered_json scores = nlohmann::ordered_json::array();
  for (const DegreeScore& s : result.scores) {
    fmt::print("{:>6}  {:<12.6g} {:<12.6g}{}\n", s.degree, s.train_mse, s.validation_mse,
               s.degree == result.best_degree ? "  <- lowest validation error" : "");
    train.points.emplace_back(static_cast<double>(s.degree), s.train_mse);
    validation.points.emplace_back(static_cast<double>(s.degree), s.validation_mse);
    scores.push_back(
        {{"degree", s.degree}, {"train_mse", s.train_mse}, {"validation_mse", s.validation_mse}});
  }
  write_text_file((fs::path(out) / "capacity.json").string(),
                  nlohmann::ordered_json{{"data", a.data},
                                         {"method", o.method},
                                         {"train_rows", result.train_rows},
                                         {"validation_rows", result.validation_rows},
                                         {"best_degree", result.best_degree},
                                         {"scores", scores}}
                          .dump(2) +
                      "\n");
  draw_curves(
      {train, validation},
      fmt::format("polynomial degree: under- and over-fitting (best {})", result.best_degree),
      "degree", "mean squared error", (fs::path(out) / "capacity.png").string(), true);
  fmt::print("plot and scores in {}\n", out);
}

void run_fit(const FitArgs& a, const CsvTable& table) {
  const FitOptions& o = a.options;
  const Columns c = columns_of(a, table);
  check_fit_data(c.x, c.d, c.y, o, {a.data, table.lines, c.x_names, c.y_name});
  if (o.model == "logistic")  // checked here too, to name the file's line
    for (int64_t i = 0; i < table.rows(); ++i)
      TIDE_CHECK(c.y[static_cast<size_t>(i)] >= 0 && c.y[static_cast<size_t>(i)] <= 1,
                 "{}: line {}: --model logistic fits y in [0, 1], and {} is {}", a.data,
                 table.lines[static_cast<size_t>(i)], c.y_name, c.y[static_cast<size_t>(i)]);
  const FitResult r = fit(c.x, c.d, c.y, o);
  const std::string out = make_out(a);
  fmt::print("{}\n", r.formula);
  for (size_t i = 0; i < r.names.size(); ++i)
    fmt::print("  {} = {:.10g}\n", r.names[i], r.parameters[i]);
  fmt::print(
      "R = {:.6g}  R^2 = {}  ({} points, {})\n", r.rss,
      std::isnan(r.r2) ? std::string("undefined (y is constant)") : fmt::format("{:.6f}", r.r2),
      table.rows(),
      o.method == "closed-form" ? "closed form" : fmt::format("{} steps of {}", r.steps, o.method));
  if (!r.warning.empty()) fmt::print(stderr, "warning: {}\n", r.warning);
  nlohmann::ordered_json params;
  for (size_t i = 0; i < r.names.size(); ++i) params[r.names[i]] = r.parameters[i];
  write_text_file((fs::path(out) / "fit.json").string(),
                  nlohmann::ordered_json{{"data", a.data},
                                         {"model", o.model},
                                         {"method", o.method},
                                         {"formula", r.formula},
                                         {"parameters", params},
                                         {"rss", r.rss},
                                         {"r2", std::isnan(r.r2) ? nlohmann::ordered_json(nullptr)
                                                                 : nlohmann::ordered_json(r.r2)},
                                         {"steps", r.steps},
                                         {"centred",
                                          {{"parameters", r.centred},
                                           {"x_mean", r.mean},
                                           {"x_std", r.stddev},
                                           {"y_shift", r.y_shift},
                                           {"y_scale", r.y_scale}}}}
                          .dump(2) +
                      "\n");
  if (c.d == 1) {
    Series data{.label = "data", .points = {}, .style = "points"};
    const auto [lo, hi] = std::minmax_element(c.x.begin(), c.x.end());
    for (int64_t i = 0; i < table.rows(); ++i)
      data.points.emplace_back(c.x[static_cast<size_t>(i)], c.y[static_cast<size_t>(i)]);
    std::vector<double> grid(400);
    for (size_t i = 0; i < grid.size(); ++i)
      grid[i] = *lo + (*hi - *lo) * static_cast<double>(i) / static_cast<double>(grid.size() - 1);
    const std::vector<double> curve_y = evaluate(o, r, grid, 1);
    Series curve{.label = o.model, .points = {}, .style = "lines"};
    for (size_t i = 0; i < grid.size(); ++i) curve.points.emplace_back(grid[i], curve_y[i]);
    draw_curves({data, curve}, r.formula, c.x_names[0], c.y_name,
                (fs::path(out) / "fit.png").string());
  }
  if (!r.loss.empty()) {
    Series loss{.label = "mean squared error", .points = {}};
    for (const auto& [step, v] : r.loss) loss.points.emplace_back(static_cast<double>(step), v);
    draw_curves({loss}, fmt::format("{} by {}", o.model, o.method), "step", "mean squared error",
                (fs::path(out) / "loss.png").string(), true);
  }
  fmt::print("{} in {}\n",
             c.d == 1 ? (r.loss.empty() ? "fit.png and fit.json" : "fit.png, loss.png and fit.json")
                      : (r.loss.empty() ? "fit.json" : "loss.png and fit.json"),
             out);
}

}  // namespace

void add_fit_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "fit",
      "Fit a parametric model to CSV data by least squares (gradient descent or closed form)");
  auto a = std::make_shared<FitArgs>();
  FitOptions& o = a->options;
  cmd->add_option("data", a->data, "CSV file: a header (or none) and rows of numbers")->required();
  cmd->add_option("--model", o.model,
                  "linear, quadratic, polynomial, exponential, logistic or rational")
      ->capture_default_str();
  cmd->add_option("--degree", o.degree, "polynomial: its degree; rational: the numerator's")
      ->capture_default_str();
  cmd->add_option("--denominator-degree", o.denominator_degree, "rational: the denominator's")
      ->capture_default_str();
  cmd->add_option("--method", o.method, "gd (full batch), sgd, minibatch or closed-form")
      ->capture_default_str();
  cmd->add_option("--batch-size", o.batch_size, "minibatch: examples per step")
      ->capture_default_str();
  cmd->add_option("--epochs", o.epochs,
                  "Passes over the data (gd: steps; 0: about 2000 updates, at least one epoch)")
      ->capture_default_str();
  add_options(cmd, {option("optimizer", "optimizer", o.optimizer, "Optimizer")});
  cmd->add_option("--lr", o.lr, "Learning rate (on standardised data)")->capture_default_str();
  cmd->add_option("--momentum", o.momentum, "Momentum of sgd, rmsprop and lars")
      ->capture_default_str();
  // The schedules that do not watch an evaluation (fit has none): plateau's options left out.
  std::vector<Option> schedule = prefixed("schedule.", options(o.schedule));
  std::erase_if(schedule, [](const Option& s) {
    return s.flag == "lr-patience" || s.flag == "lr-threshold";
  });
  add_options(cmd, schedule);
  cmd->add_flag("--no-scale", a->no_scale,
                "Fit the data as it is, without standardising inputs and scaling outputs");
  cmd->add_option("--seed", o.seed, "Order of sgd and minibatch examples; the validation split")
      ->capture_default_str();
  cmd->add_option("--x", a->x,
                  "Input column(s), by name or number, comma-separated for linear (default: the "
                  "first)");
  cmd->add_option("--y", a->y, "Output column, by name or number (default: the last)");
  cmd->add_option("--degrees", a->degrees,
                  "Fit every polynomial degree of this range (such as 1-15) and compare them on "
                  "held-out points");
  cmd->add_option("--validation", a->validation, "--degrees: the fraction held out")
      ->capture_default_str();
  cmd->add_option("--out", a->out, "Output directory (default: runs/fit-<model>-<time>)");
  cmd->callback(naming_flags(cmd, [cmd, a] {
    FitOptions& o = a->options;
    o.scale = !a->no_scale;
    const bool degree_given = cmd->count("--degree") > 0;
    TIDE_CHECK(!degree_given || o.model == "polynomial" || o.model == "rational",
               "--degree applies to --model polynomial and rational, not {}", o.model);
    TIDE_CHECK(cmd->count("--denominator-degree") == 0 || o.model == "rational",
               "--denominator-degree applies to --model rational, not {}", o.model);
    if (!a->degrees.empty()) {
      TIDE_CHECK(cmd->count("--model") == 0 || o.model == "polynomial",
                 "--degrees sweeps polynomials; it does not go with --model {}", o.model);
      TIDE_CHECK(!degree_given, "--degrees and --degree: give one");
      o.model = "polynomial";
      // A sweep compares models, not optimisers: closed form unless a method was asked for.
      if (cmd->count("--method") == 0) o.method = "closed-form";
    }
    validate(o);
    const CsvTable table = read_csv(a->data);
    if (a->degrees.empty())
      run_fit(*a, table);
    else
      run_capacity(*a, table);
  }));
}

}  // namespace tide::cli
