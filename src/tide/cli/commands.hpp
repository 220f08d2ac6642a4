// Subcommands of the `tide` program. Each registers its flags on the app and, when chosen,
// parses them into a config struct and calls the library.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tide/core/options.hpp"
#include "tide/session/config.hpp"
#include "tide/timeseries/series.hpp"

namespace tide::cli {

// The exit status main() returns when no error was thrown (0 unless a command sets it: a
// run stopped by SIGTERM exits with 128 + the signal, as the shell reports it).
int exit_status();
void set_exit_status(int status);

// Adds to every option of `app` and its subcommands, by the option's type, the checks of its
// text: whole numbers in decimal that fit in 64 bits (a seed not negative), floating-point
// values finite. CLI11 alone would read "-1" as 2^64 - 1 and a value past 64 bits as the
// largest one.
void add_number_checks(CLI::App& app);

// Registers a flag --<flag> on `cmd` for each option, with its help, default and choices.
void add_options(CLI::App* cmd, const std::vector<Option>& options);
// The message of `e` with each option named by its flag on `cmd` (as add_options registered).
std::string with_flags(const CLI::App* cmd, const OptionError& e);
// `callback`, with an OptionError it throws rethrown as an Error naming flags of `cmd`.
std::function<void()> naming_flags(const CLI::App* cmd, std::function<void()> callback);

// The items of a comma-separated list ("a,b,c"), in order, empty items kept.
std::vector<std::string> split_list(const std::string& s);

// `tide train`: trains a classifier (classify/trainer.hpp).
void add_train_command(CLI::App& app);
// Its parsing alone, which the command runs before training (and tests without training):
// the subcommand "train" with --config and the training options, written into `config`
// and `config_path` ...
CLI::App* add_train_parser(CLI::App& app, const std::shared_ptr<TrainConfig>& config,
                           std::string& config_path);
// ... and, after the flags are parsed, the settings of the --config file for the flags not
// given, then the checks of the whole configuration (validate, --team-flag a flag).
void resolve_train_config(CLI::App& cmd, TrainConfig& config, const std::string& config_path);

// The options of `tide train` that shape a run (model, data, optimizer, schedule,
// regularisation, parallelism, monitoring), registered on `cmd` and written into `config`.
void add_training_options(CLI::App* cmd, const std::shared_ptr<TrainConfig>& config);

// `tide predict` and `tide evaluate`: a trained classifier applied to inputs and to a test
// split (classify/predict.hpp).
void add_predict_command(CLI::App& app);
void add_evaluate_command(CLI::App& app);
// `tide export`: a run's network as an ONNX model (onnx/onnx.hpp).
void add_export_command(CLI::App& app);
// `tide profile`: a --trace file read back as a table of phases (session/trace_file.hpp).
void add_profile_command(CLI::App& app);

// `tide fit`: classical regression of CSV data (fit/fit.hpp).
void add_fit_command(CLI::App& app);

// `tide kmeans`: k-means on the rows of a CSV file (cluster/kmeans.hpp).
void add_kmeans_command(CLI::App& app);

// `tide timeseries generate|ingest|train|cluster`: the time-series case study
// (data/timeseries.hpp, data/postgres_source.hpp, timeseries/series.hpp).
void add_timeseries_command(CLI::App& app);
// The options of `tide timeseries train` (and `tide experiment time-to-solution`), and
// their defaults for the autoencoder (Adam, lr 0.01, gradients clipped to norm 1).
void series_train_defaults(TrainConfig& config);
void add_series_train_options(CLI::App* cmd, TrainConfig& config, SeriesTrainOptions& options);
// The subcommand `train` of `timeseries` with those defaults and options and --config (which
// its callback applies with apply_config_file), without the callback.
CLI::App* add_series_train_parser(CLI::App& timeseries, TrainConfig& config,
                                  SeriesTrainOptions& options, std::string& config_path);

// `tide experiment batch-size|regularization`: families of runs with plots
// (experiments/experiment.hpp).
void add_experiment_command(CLI::App& app);

// `tide plot`: curves of a metric of runs (report/plot.hpp).
void add_plot_command(CLI::App& app);

// `tide convolve`: filters an image with a fixed kernel (convolve/image_filter.hpp).
void add_convolve_command(CLI::App& app);

}  // namespace tide::cli
