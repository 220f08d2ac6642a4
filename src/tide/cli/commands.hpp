// Subcommands of the `tide` program. Each registers its flags on the app and, when chosen,
// parses them into a config struct and calls the library.
#pragma once

#include <CLI/CLI.hpp>

namespace tide::cli {

// The exit status main() returns when no error was thrown (0 unless a command sets it: a
// run stopped by SIGTERM exits with 128 + the signal, as the shell reports it).
int exit_status();
void set_exit_status(int status);

// `tide train`: trains a classifier (train/trainer.hpp).
void add_train_command(CLI::App& app);

// `tide plot`: curves of a metric of runs (train/plot.hpp).
void add_plot_command(CLI::App& app);

// `tide convolve`: filters an image with a fixed kernel (train/image_filter.hpp).
void add_convolve_command(CLI::App& app);

}  // namespace tide::cli
