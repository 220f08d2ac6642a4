#include "tide/report/plot.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "tide/core/error.hpp"
#include "tide/report/metrics.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;

int column_of(const std::string& name) {
  for (size_t i = 0; i < kMetricsColumns.size(); ++i)
    if (name == kMetricsColumns[i]) return static_cast<int>(i);
  return -1;
}

// gnuplot's string quoting: single quotes, doubled inside.
std::string gnuplot_string(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

}  // namespace

Series read_series(const std::string& run_dir, const PlotOptions& o) {
  const int y = column_of(o.metric);
  TIDE_CHECK((y >= 3 && y <= 6) || y >= 8,
             "--metric {}: not a metric of metrics.csv (loss, accuracy, lr, samples_per_sec, rmse, "
             "r2)",
             o.metric);
  TIDE_CHECK(o.x == "step" || o.x == "epoch", "--x must be step or epoch, got '{}'", o.x);
  TIDE_CHECK(o.split == "train" || o.split == "test" || o.split == "train-eval",
             "--split must be train, test or train-eval, got '{}'", o.split);
  const std::string path = (fs::path(run_dir) / "metrics.csv").string();
  std::ifstream in(path);
  TIDE_CHECK(in, "{}: cannot open: {} (is {} a run directory?)", path, std::strerror(errno),
             run_dir);
  Series s;
  s.label = fs::path(run_dir).lexically_normal().filename().string();
  if (s.label.empty()) s.label = fs::path(run_dir).lexically_normal().parent_path().filename();
  std::string line;
  const size_t columns = std::getline(in, line) ? metrics_columns_of(line) : 0;
  TIDE_CHECK(columns > 0, "{}: line 1 is not the header of metrics.csv", path);
  for (int number = 2; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    std::vector<std::string> cells(1);
    for (const char c : line) {
      if (c == ',')
        cells.emplace_back();
      else
        cells.back().push_back(c);
    }
    TIDE_CHECK(cells.size() == columns, "{}: line {} has {} fields, expected {}", path, number,
               cells.size(), columns);
    if (cells[2] != o.split) continue;
    // A figure the row does not have (a regression's accuracy) is an empty cell: no point.
    if (static_cast<size_t>(y) >= cells.size() || cells[static_cast<size_t>(y)].empty()) continue;
    auto number_at = [&](int column) {
      char* end = nullptr;
      const double v = std::strtod(cells[static_cast<size_t>(column)].c_str(), &end);
      TIDE_CHECK(end != cells[static_cast<size_t>(column)].c_str() && *end == '\0',
                 "{}: line {}: {} '{}' is not a number", path, number, kMetricsColumns[column],
                 cells[static_cast<size_t>(column)]);
      return v;
    };
    s.points.emplace_back(number_at(o.x == "step" ? 0 : 1), number_at(y));
  }
  return s;
}

void plot_runs(const PlotOptions& o) {
  TIDE_CHECK(!o.runs.empty(), "tide plot: no run directory given");
  TIDE_CHECK(!o.out.empty(), "tide plot: --out FILE.png is required");
  std::vector<Series> all;
  for (const std::string& run : o.runs) {
    all.push_back(read_series(run, o));
    TIDE_CHECK(!all.back().points.empty(),
               "{}/metrics.csv has no {} rows with a value of {} to plot", run, o.split, o.metric);
  }
  draw_curves(all, o.title.empty() ? o.split + " " + o.metric : o.title, o.x, o.metric, o.out);
}

void draw_curves(const std::vector<Series>& all, const std::string& title,
                 const std::string& xlabel, const std::string& ylabel, const std::string& out,
                 bool log_y, bool log_x) {
  // A logarithmic axis needs positive values: all-zero losses (an exact fit) stay linear.
  for (const Series& c : all)
    for (const auto& [x, y] : c.points) {
      log_y = log_y && y > 0;
      log_x = log_x && x > 0;
    }
  // The data inline, one block per curve (gnuplot's '-' files), so nothing is left behind.
  std::string script = fmt::format(
      "set terminal pngcairo size 960,600 noenhanced\nset output {}\nset title {}\n"
      "set xlabel {}\nset ylabel {}\nset key outside right\nset grid\n{}{}plot ",
      gnuplot_string(out), gnuplot_string(title), gnuplot_string(xlabel), gnuplot_string(ylabel),
      log_y ? "set logscale y\n" : "", log_x ? "set logscale x 2\n" : "");
  for (size_t i = 0; i < all.size(); ++i) {
    const std::string& style = all[i].style;
    TIDE_CHECK(style == "linespoints" || style == "lines" || style == "points",
               "plot style '{}' is not linespoints, lines or points", style);
    script += fmt::format("{}'-' using 1:2 with {} title {}", i ? ", " : "", style,
                          gnuplot_string(all[i].label));
  }
  script += "\n";
  for (const Series& s : all) {
    for (const auto& [x, y] : s.points) script += fmt::format("{} {}\n", x, y);
    script += "e\n";
  }
  run_gnuplot(script, out);
}

void draw_heatmap(const std::vector<std::vector<double>>& cells,
                  const std::vector<std::string>& rows, const std::vector<std::string>& columns,
                  const std::string& title, const std::string& xlabel, const std::string& ylabel,
                  const std::string& out) {
  TIDE_CHECK(!cells.empty() && cells.size() == rows.size(), "draw_heatmap: {} rows, {} labels",
             cells.size(), rows.size());
  std::string tics_x, tics_y;
  for (size_t c = 0; c < columns.size(); ++c)
    tics_x += fmt::format("{}{} {}", c ? ", " : "", gnuplot_string(columns[c]), c);
  for (size_t r = 0; r < rows.size(); ++r)
    tics_y += fmt::format("{}{} {}", r ? ", " : "", gnuplot_string(rows[r]), r);
  std::string script = fmt::format(
      "set terminal pngcairo size 900,800 noenhanced\nset output {}\nset title {}\n"
      "set xlabel {}\nset ylabel {}\nset xtics ({}) rotate by 45 right\nset ytics ({})\n"
      "set yrange [] reverse\nset palette defined (0 'white', 1 '#1f4e9c')\nunset key\n"
      "plot '-' using 1:2:3 with image, '-' using 1:2:(sprintf('%g', $3)) with labels\n",
      gnuplot_string(out), gnuplot_string(title), gnuplot_string(xlabel), gnuplot_string(ylabel),
      tics_x, tics_y);
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t r = 0; r < cells.size(); ++r) {
      TIDE_CHECK(cells[r].size() == columns.size(), "draw_heatmap: row {} has {} cells, not {}", r,
                 cells[r].size(), columns.size());
      for (size_t c = 0; c < columns.size(); ++c)
        script += fmt::format("{} {} {}\n", c, r, cells[r][c]);
    }
    script += "e\n";
  }
  run_gnuplot(script, out);
}

void run_gnuplot(const std::string& script, const std::string& out) {
  // A child inherits the signal mask: gnuplot starts with SIGTERM and SIGINT open, even from
  // a thread that blocks them for a training loop (Session::catch_termination_signals).
  sigset_t termination, before;
  sigemptyset(&termination);
  sigaddset(&termination, SIGTERM);
  sigaddset(&termination, SIGINT);
  pthread_sigmask(SIG_UNBLOCK, &termination, &before);
  FILE* gnuplot = popen("gnuplot 2>&1", "w");
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  TIDE_CHECK(gnuplot != nullptr, "cannot start gnuplot: {}", std::strerror(errno));
  std::fwrite(script.data(), 1, script.size(), gnuplot);
  const int status = pclose(gnuplot);
  TIDE_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "gnuplot failed (exit status {}){}",
             WIFEXITED(status) ? WEXITSTATUS(status) : -1,
             WIFEXITED(status) && WEXITSTATUS(status) == 127
                 ? ": it is not installed (scripts/setup installs gnuplot-nox)"
                 : "");
  std::error_code ec;
  TIDE_CHECK(fs::file_size(out, ec) > 0 && !ec, "{}: gnuplot wrote no image", out);
}

}  // namespace tide
