// A training run of a classifier: data, model, optimizer, loop, evaluation, run directory.
#pragma once

#include <string>

#include "tide/distributed/communicator.hpp"
#include "tide/classify/network_file.hpp"
#include "tide/session/config.hpp"
#include "tide/session/training_run.hpp"

namespace tide {

// How a run of train_classifier ended: test_loss and test_accuracy are the last
// evaluation's on the test split.
using TrainSummary = RunResult;

// Trains config.model on config.dataset with SGD, evaluating on the test split after each
// epoch (and after the last step), and writes into the run directory: config.toml (the
// resolved configuration), metrics.csv, summary.json and model.safetensors (the final
// parameters). Progress goes to standard error.
//
// On the ranks of `comm` (every rank calls this), training is synchronous data-parallel:
// rank 0's initial parameters are broadcast and verified, each rank trains on its share
// of every epoch, gradients are averaged by a Reducer while backward runs, metrics are
// averaged over the ranks, and only rank 0 writes files. Every rank returns the summary.
TrainSummary train_classifier(TrainConfig config, const Communicator& comm);
// runs/<model>-<dataset>-<local time>, the run directory when none is given.
std::string default_run_dir(const TrainConfig& config);
// The network file a run trains: --model-file (a model file or an ONNX graph), else the
// shipped file of --model.
NetworkFile network_file_of(const TrainConfig& config);
// The name of a run's model: --model, or the stem of --model-file (net for nets/net.toml).
std::string model_name(const TrainConfig& config);

// In a world of one.
TrainSummary train_classifier(TrainConfig config);

}  // namespace tide
