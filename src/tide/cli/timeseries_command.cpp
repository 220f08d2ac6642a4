#include <fmt/format.h>

#include "tide/cli/commands.hpp"
#include "tide/data/timeseries.hpp"
#include "tide/dist/communicator.hpp"

namespace tide::cli {

void add_timeseries_command(CLI::App& app) {
  CLI::App* ts = app.add_subcommand("timeseries", "Time series: synthetic labelled data");
  ts->require_subcommand(1);
  CLI::App* gen = ts->add_subcommand(
      "generate",
      "Write labelled synthetic series (sine, square, sawtooth, chirp, bursts, triangle, damped, "
      "steps) with random phase, amplitude, trend and noise, as long-format CSV");
  auto o = std::make_shared<SeriesOptions>();
  auto out = std::make_shared<std::string>();
  gen->add_option("--out", *out, "The CSV file: series_id,t,value,label")->required();
  gen->add_option("--series", o->series, "Number of series")->capture_default_str();
  gen->add_option("--length", o->length, "Points per series")->capture_default_str();
  gen->add_option("--classes", o->classes, "Shapes, the first K of the list")
      ->capture_default_str();
  gen->add_option("--noise", o->noise, "Standard deviation of the noise (amplitudes 0.5-1.5)")
      ->capture_default_str();
  gen->add_option("--trend", o->trend, "Largest total rise of a series' linear trend")
      ->capture_default_str();
  gen->add_option("--seed", o->seed, "Seed of the draws")->capture_default_str();
  gen->callback([o, out] {
    if (Communicator::world().rank() != 0) return;  // under mpirun, one writer
    generate_series_csv(*out, *o);
    fmt::print("{} series of {} points in {} classes written to {}\n", o->series, o->length,
               o->classes, *out);
  });
}

}  // namespace tide::cli
