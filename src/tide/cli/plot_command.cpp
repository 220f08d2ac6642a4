#include <fmt/format.h>

#include "tide/cli/commands.hpp"
#include "tide/report/plot.hpp"

namespace tide::cli {

void add_plot_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "plot", "Plot one metric of one or more runs against step or epoch (gnuplot, PNG)");
  auto o = std::make_shared<PlotOptions>();
  cmd->add_option("runs", o->runs, "Run directories (each with a metrics.csv)")->required();
  cmd->add_option("--metric", o->metric, "loss, accuracy, lr, samples_per_sec, rmse or r2")
      ->capture_default_str();
  cmd->add_option("--split", o->split, "train, test or train-eval rows")->capture_default_str();
  cmd->add_option("--x", o->x, "step or epoch")->capture_default_str();
  cmd->add_option("--out", o->out, "The PNG to write")->required();
  cmd->add_option("--title", o->title, "Plot title (default: <split> <metric>)");
  cmd->callback([o] {
    plot_runs(*o);
    fmt::print("wrote {}\n", o->out);
  });
}

}  // namespace tide::cli
