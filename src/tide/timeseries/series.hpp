// The time-series case study as library calls: train the LSTM autoencoder on series
// streamed from a TimeSeriesSource (PostgreSQL), then encode every series and group the
// codes with distributed k-means (`tide timeseries train` and `tide timeseries cluster`).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tide/cluster/kmeans.hpp"
#include "tide/data/series_source.hpp"
#include "tide/distributed/communicator.hpp"
#include "tide/models/autoencoder.hpp"
#include "tide/session/config.hpp"
#include "tide/session/evaluation.hpp"
#include "tide/session/session.hpp"

namespace tide {

// Where the series are and how they are cut.
struct SeriesData {
  // Connection strings: copies of one table (rank r uses db[r % db.size()]) or the shards of a
  // sharded store (open_source tells which).
  std::vector<std::string> db;
  std::string table = "series";
  int64_t window = 0;          // points per window; 0: the series' length (then all must have it)
  int64_t stride = 0;          // points between windows' starts; 0: the window
  double retry_seconds = 120;  // reconnecting after a lost connection, at most
  double fetch_mb = 16;        // series text per FETCH
};

struct SeriesTrainOptions {
  SeriesData data;
  AutoencoderOptions model;
  int64_t shuffle_buffer = 4096;  // windows
  double validation = 0.1;        // the last fraction of series, held out for the evaluation
  // Which series a rank reads, of a sharded store. "store": the store's split, as one table's
  // (the same model as from one server). "shard": rank r reads only shard
  // floor(r x shards / ranks), for ranks placed beside their database node.
  std::string locality = "store";
  // Stop once the mean training loss over --log-every steps (all ranks) is at or below this;
  // 0: off. The time it took is the run's time to solution.
  double target_loss = 0;
};

struct SeriesTrainSummary {
  std::string run_dir;
  int64_t steps = 0;
  double epochs = 0;
  int64_t window = 0;
  double train_loss = 0;       // mean over the last epoch's steps
  double validation_loss = 0;  // the last evaluation's mean squared error
  double wall_s = 0;
  double windows_per_sec = 0;  // over all ranks
  double target_s = -1;        // seconds to the target loss; -1: not reached
  int64_t target_step = -1;
  double target_loss_seen = 0;  // the mean training loss that met the target
  int64_t reconnects = 0;       // of this rank's streams
  std::string stop_reason, checkpoint;
  std::vector<EpochRecord> history;
  StepTiming timing;                        // this rank's median step
  std::vector<int64_t> parameter_elements;  // of each parameter, in the model's order
};

// config.toml of a run of train_series_autoencoder: the flags of `tide timeseries train`
// but --db, which `--config` reads back.
std::string series_config_toml(const TrainConfig& config, const SeriesTrainOptions& options,
                               const WindowSpec& windows);

// Trains the autoencoder, data-parallel on the ranks of `comm`, with the monitored session
// of `tide train` (checkpoints, resume, metrics.csv, TensorBoard summaries). Writes into
// config.run_dir: config.toml, autoencoder.json (what `cluster` needs to rebuild the model),
// metrics.csv, summary.json and model.safetensors.
SeriesTrainSummary train_series_autoencoder(TrainConfig config, SeriesTrainOptions options,
                                            const Communicator& comm);

// `tide experiment time-to-solution`: one training run per (rank count, batch size) until
// the target loss, timed.
struct TimeToSolution {
  int ranks = 1;
  int64_t batch_size = 0;    // per rank
  int64_t global_batch = 0;  // batch_size x ranks
  double seconds = -1;       // from the first step to the target; -1: not reached
  int64_t steps = 0;         // to the target, or run in all
  double epochs = 0;
  double train_loss = 0;  // at the target (mean over --log-every steps), else the last epoch's
  double windows_per_sec = 0;
  std::string run_dir;
};

// For each rank count (at most comm.size(); the first ranks form the team, the others wait)
// and each batch size, trains a fresh autoencoder in <out>/ranks<r>-batch<b> until
// options.target_loss (> 0) or --epochs. Every rank returns the results, rank count major.
std::vector<TimeToSolution> time_to_solution(const TrainConfig& config,
                                             const SeriesTrainOptions& options,
                                             const std::vector<int64_t>& batch_sizes,
                                             const std::vector<int>& rank_counts,
                                             const std::string& out, const Communicator& comm);
// time_to_solution.csv, summary.md (the table) and time_to_solution.png in `out`.
void write_time_to_solution_report(const std::string& out, double target_loss,
                                   const std::vector<TimeToSolution>& results);

// `tide experiment scaling`: the scaling model of distributed/scaling_model.hpp fed with
// this machine's measurements of the autoencoder's step and allreduce, checked against runs
// here, and its predictions for the networks of the description files.
struct ScalingOptions {
  std::vector<int64_t> batch_sizes;   // per rank (those of time-to-solution)
  std::vector<int> check_ranks;       // rank counts of the runs that check the model
  std::vector<std::string> networks;  // description files
  int max_nodes = 128;
  int64_t steps = 200;                  // of each timed run
  std::vector<int64_t> target_batches;  // global batches trained to the target loss
  int node_threads = 0;                 // a node's one rank; 0: this machine's processors
  int check_threads = 1;                // each rank of the check's runs
  int repeats = 5;  // of each compute and check run: the fastest, and the median, are kept
};
// Runs the measurements on the ranks of `comm` (the ranks that sit out sleep) and writes
// into `out`: calibration.csv, allreduce.csv, check.csv, steps_to_target.csv, scaling.csv,
// summary.md and scaling-<network>.png. Returns summary.md's text on every rank.
std::string scaling_experiment(const TrainConfig& config, const SeriesTrainOptions& options,
                               const ScalingOptions& scaling, const std::string& out,
                               const Communicator& comm);

// A series' vector from its windows' codes: their mean, or their mean and standard deviation.
enum class SeriesPool { mean, mean_std };
constexpr std::array<std::string_view, 2> choice_names(SeriesPool) {
  return {"mean", "mean-std"};
}

struct SeriesClusterOptions {
  SeriesData data;    // window and stride default to the training run's
  std::string model;  // a run directory, its model.safetensors or a checkpoint
  KMeansOptions kmeans;
  SeriesPool pool = SeriesPool::mean_std;
  int64_t batch_size = 256;
  int64_t silhouette_sample = 5000;
  std::string out;       // directory for clusters.csv and clusters.json
  bool write_db = true;  // also <table>_clusters in the database
  int threads = 0;
};

struct SeriesClusterSummary {
  int64_t series = 0;   // clustered (those with at least one window)
  int64_t skipped = 0;  // shorter than a window
  KMeansResult kmeans;
  ClusterScores scores;
  std::string out_dir;  // rank 0: where clusters.csv, codes.csv and clusters.json are
};

// Encodes every series (the mean of its windows' codes), clusters the codes with k-means over
// the ranks, and (rank 0) writes clusters.csv, clusters.json and the database table.
SeriesClusterSummary cluster_series(const SeriesClusterOptions& options, const Communicator& comm);

}  // namespace tide
