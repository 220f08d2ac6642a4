// A training run of a classifier: data, model, optimizer, loop, evaluation, run directory.
#pragma once

#include "tide/distributed/communicator.hpp"

#include <string>
#include <vector>

#include "tide/session/config.hpp"
#include "tide/classify/evaluate.hpp"

namespace tide {

struct TrainSummary {
  double test_accuracy = 0;
  double test_loss = 0;
  double train_loss = 0;  // mean over the steps of the last epoch run
  double epochs = 0;      // steps / batches per epoch
  int64_t steps = 0;
  double samples_per_sec = 0;  // training examples per second over the whole run
  double wall_s = 0;
  int64_t parameters = 0;
  std::string run_dir;
  std::string stop_reason;           // why the loop ended ("reached step 938", "SIGTERM received")
  int stopped_by_signal = 0;         // SIGTERM or SIGINT when a signal stopped it, else 0
  std::string checkpoint;            // the last checkpoint written (its JSON)
  std::vector<EpochRecord> history;  // every evaluation of this run, in order
  double lr = 0;                     // the base rate after --lr-scaling
  int64_t warmup_steps = 0;          // of the schedule (--warmup-epochs converted)
};

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

// In a world of one.
TrainSummary train_classifier(TrainConfig config);

}  // namespace tide
