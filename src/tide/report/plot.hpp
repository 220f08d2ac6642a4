// `tide plot`: curves of one metric of one or more runs, from their metrics.csv, drawn by
// gnuplot into a PNG.
#pragma once

#include <string>
#include <vector>

namespace tide {

struct PlotOptions {
  std::vector<std::string> runs;  // run directories, each with a metrics.csv
  std::string metric = "loss";    // loss | accuracy | lr | samples_per_sec
  std::string split = "train";    // train | test | train-eval (--eval-train): which rows
  std::string x = "step";         // step | epoch
  std::string out;                // the PNG
  std::string title;              // default: "<split> <metric>"
};

// One run's series: (x, y) points of the rows of `split`, in file order.
struct Series {
  std::string label;
  std::vector<std::pair<double, double>> points;
  std::string style = "linespoints";  // gnuplot's: linespoints, lines or points
};

// Reads the series of `options.metric` from a run's metrics.csv. Throws naming the file and
// line for a malformed row, and the known metrics for an unknown one.
Series read_series(const std::string& run_dir, const PlotOptions& options);

// Draws the runs' series (one curve each) with gnuplot into options.out. Throws when a run
// has no rows of the split, or gnuplot is missing or fails.
void plot_runs(const PlotOptions& options);

// Draws `curves` (one line with points each, labelled) into the 960x600 PNG `out`; log_x
// draws x in powers of two (node counts).
void draw_curves(const std::vector<Series>& curves, const std::string& title,
                 const std::string& xlabel, const std::string& ylabel, const std::string& out,
                 bool log_y = false, bool log_x = false);

// Draws a table of numbers as a heat map with each cell's value written in it (a confusion
// matrix: true classes down, predicted across) into the PNG `out`.
void draw_heatmap(const std::vector<std::vector<double>>& cells,
                  const std::vector<std::string>& rows, const std::vector<std::string>& columns,
                  const std::string& title, const std::string& xlabel, const std::string& ylabel,
                  const std::string& out);

// Runs gnuplot on `script`, which draws into `out`. Throws when gnuplot is missing or fails,
// or wrote nothing.
void run_gnuplot(const std::string& script, const std::string& out);

}  // namespace tide
