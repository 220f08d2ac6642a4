#include <optional>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tide/cli/commands.hpp"
#include "tide/cli/config_file.hpp"
#include "tide/data/postgres_source.hpp"
#include "tide/data/timeseries.hpp"
#include "tide/distributed/communicator.hpp"
#include "tide/timeseries/series.hpp"

namespace tide::cli {
namespace {

// --db (repeatable), --table and the window flags, shared by train and cluster.
void add_series_data_options(CLI::App* cmd, SeriesData& d) {
  cmd->add_option("--db", d.db,
                  "PostgreSQL connection string (\"host=... port=... dbname=... user=...\" or a "
                  "postgresql:// URI); repeat it to give rank r the (r mod n)-th, each holding "
                  "the same table, or the shards of a store loaded with ingest --sharded (every "
                  "shard, in any order; a shard given n times is read by rank r from its "
                  "(r mod n)-th)")
      ->required();
  cmd->add_option("--table", d.table, "The table of series")->capture_default_str();
  cmd->add_option("--window", d.window,
                  "Points per window (0: the series' length, which all must share)")
      ->capture_default_str();
  cmd->add_option("--stride", d.stride, "Points between windows' starts (0: the window)")
      ->capture_default_str();
  cmd->add_option("--retry-seconds", d.retry_seconds,
                  "Seconds to keep reconnecting after the database connection drops")
      ->capture_default_str();
  cmd->add_option("--fetch-mb", d.fetch_mb, "Series text a cursor fetches at a time (MB)")
      ->capture_default_str();
}

void add_ingest_command(CLI::App* ts) {
  CLI::App* cmd = ts->add_subcommand(
      "ingest",
      "Load long-format CSV (series_id,t,value[,label]) into a PostgreSQL table with COPY, "
      "one row per series (created with its indexes if needed; nothing added on an error)");
  auto db = std::make_shared<std::vector<std::string>>();
  auto csv = std::make_shared<std::string>();
  auto table = std::make_shared<std::string>("series");
  auto sharded = std::make_shared<bool>(false);
  cmd->add_option("--db", *db,
                  "PostgreSQL connection string; with --sharded, repeat it once per shard")
      ->required();
  cmd->add_option("--csv", *csv, "The CSV file; a series' rows together, in increasing t")
      ->required();
  cmd->add_option("--table", *table, "The table")->capture_default_str();
  cmd->add_flag("--sharded", *sharded,
                "Split the series over the --db servers, one consecutive range of series each "
                "balanced by points, committed on all or none (two-phase commit)");
  cmd->callback([db, csv, table, sharded] {
    if (Communicator::world().rank() != 0) return;  // under mpirun, one loader
    TIDE_CHECK(*sharded || db->size() == 1,
               "ingest: {} --db given; give one, or --sharded to split the series over them",
               db->size());
    const IngestResult r = *sharded ? ingest_series_csv_sharded(*db, *table, *csv)
                                    : ingest_series_csv(db->front(), *table, *csv);
    fmt::print("{} series ({} rows{}) loaded into table \"{}\"{} in {:.2f} s: {:.0f} rows/s\n",
               r.series, r.rows, r.labelled ? ", with labels" : "", *table,
               *sharded ? fmt::format(" of {} shards", db->size()) : "", r.seconds,
               static_cast<double>(r.rows) / std::max(r.seconds, 1e-9));
  });
}

// `status`: what each --db's table holds, a row per table (a shard of a store, or a table of
// its own), and the store's totals.
void add_status_command(CLI::App* ts) {
  CLI::App* cmd = ts->add_subcommand(
      "status",
      "Series, windows, points and bytes of the table of each --db (each shard of a "
      "sharded store), and the whole store's");
  auto d = std::make_shared<SeriesData>();
  cmd->add_option("--db", d->db, "PostgreSQL connection string; repeat it for every shard")
      ->required();
  cmd->add_option("--table", d->table, "The table of series")->capture_default_str();
  cmd->add_option("--window", d->window, "Points per window (0: the series' length)")
      ->capture_default_str();
  cmd->add_option("--stride", d->stride, "Points between windows' starts (0: the window)")
      ->capture_default_str();
  cmd->callback([d] {
    if (Communicator::world().rank() != 0) return;
    fmt::print("{:<12} {:>10} {:>12} {:>14} {:>10}  {}\n", "shard", "series", "windows", "points",
               "MB", "table");
    SourceSummary total;
    int64_t total_windows = 0, total_bytes = 0;
    std::set<int> shards_seen;
    std::optional<StoreShard> store;
    for (const std::string& db : d->db) {
      PostgresSource source(db, d->table);
      const std::optional<StoreShard> shard = source.store_shard();
      const SourceSummary s = source.summary();
      const int64_t length = d->window > 0 ? d->window : s.max_length;
      int64_t windows = 0;
      if (s.series > 0 && (d->window > 0 || s.min_length == s.max_length))
        for (const SeriesRange& r : source.runs({.length = length, .stride = d->stride}))
          windows += r.windows;
      const int64_t bytes = source.bytes();
      fmt::print("{:<12} {:>10} {:>12} {:>14} {:>10.1f}  {}\n",
                 shard ? fmt::format("{} of {}", shard->shard + 1, shard->shards) : "table",
                 s.series, windows, s.points, static_cast<double>(bytes) / 1e6, source.describe());
      if (shard) {
        TIDE_CHECK(!store || store->store == shard->store,
                   "{} is a shard of store {}, the --db before it of store {}", source.describe(),
                   shard->store, store->store);
        store = shard;
        if (!shards_seen.insert(shard->shard).second) continue;  // a replica of a shard
      }
      total.series += s.series;
      total.points += s.points;
      total_windows += windows;
      total_bytes += bytes;
    }
    if (store)
      fmt::print("{:<12} {:>10} {:>12} {:>14} {:>10.1f}  store {}: {} of its {} shards given\n",
                 "store", total.series, total_windows, total.points,
                 static_cast<double>(total_bytes) / 1e6, store->store, shards_seen.size(),
                 store->shards);
  });
}

// `federate`: one database that queries the whole sharded store (federate_store).
void add_federate_command(CLI::App* ts) {
  CLI::App* cmd = ts->add_subcommand(
      "federate",
      "Make a coordinator database see a sharded store as one table (postgres_fdw "
      "foreign tables of the shards under a table partitioned by shard)");
  auto coordinator = std::make_shared<std::string>();
  auto db = std::make_shared<std::vector<std::string>>();
  auto table = std::make_shared<std::string>("series");
  cmd->add_option("--coordinator", *coordinator,
                  "PostgreSQL connection string of the database to query the store from")
      ->required();
  cmd->add_option("--db", *db,
                  "Connection string of a shard, as the coordinator reaches it; "
                  "repeat it for every shard")
      ->required();
  cmd->add_option("--table", *table, "The store's table; the coordinator's has the same name")
      ->capture_default_str();
  cmd->callback([coordinator, db, table] {
    if (Communicator::world().rank() != 0) return;
    federate_store(*coordinator, *db, *table);
    fmt::print(
        "table \"{}\" of {} now reads the {} shards, e.g. SELECT label, count(*) FROM "
        "\"{}\" GROUP BY label\n",
        *table, redact_connection(*coordinator), db->size(), *table);
  });
}

}  // namespace

void series_train_defaults(TrainConfig& config) {
  config.optimizer = OptimizerKind::adam;
  config.lr = 0.01;
  config.clip_norm = 1;
  config.batch_size = 32;
  config.epochs = 10;
  config.log_every = 20;
  config.summary_every_steps = 20;
}

void add_series_train_options(CLI::App* cmd, TrainConfig& config, SeriesTrainOptions& o) {
  add_series_data_options(cmd, o.data);
  cmd->add_option("--model", config.model, "The model")
      ->check(CLI::IsMember({"lstm-ae"}))
      ->default_str("lstm-ae");
  cmd->add_option("--latent", o.model.latent, "Size of the code")->capture_default_str();
  cmd->add_option("--hidden", o.model.hidden, "LSTM units of encoder and decoder")
      ->capture_default_str();
  cmd->add_option("--layers", o.model.layers, "LSTM layers of encoder and decoder")
      ->capture_default_str();
  cmd->add_option("--code", o.model.code,
                  "The code from the encoder's states: last (the last one) or pooled (their "
                  "mean over time)")
      ->check(CLI::IsMember({"last", "pooled"}))
      ->capture_default_str();
  cmd->add_option("--shuffle-buffer", o.shuffle_buffer,
                  "Windows a rank shuffles among as they stream in (0: in table order)")
      ->capture_default_str();
  cmd->add_option("--locality", o.locality,
                  "Of a sharded store, what a rank reads: store (its share of the whole store, "
                  "as from one table) or shard (only shard floor(rank x shards / ranks), for "
                  "ranks placed beside their database node)")
      ->check(CLI::IsMember({"store", "shard"}))
      ->capture_default_str();
  cmd->add_option("--validation", o.validation,
                  "Fraction of the series (the last ones) held out for the validation loss")
      ->capture_default_str();
  cmd->add_option("--target-loss", o.target_loss,
                  "Stop once the mean training loss over --log-every steps is at or below this "
                  "(0: off)")
      ->capture_default_str();
  add_options(cmd, optimizer_options(config));
  add_options(cmd, run_options(config));
}

CLI::App* add_series_train_parser(CLI::App& timeseries, TrainConfig& config,
                                  SeriesTrainOptions& options, std::string& config_path) {
  CLI::App* cmd = timeseries.add_subcommand(
      "train",
      "Train an LSTM autoencoder on windows of the series, streamed from PostgreSQL by every "
      "rank (data-parallel under mpirun), with checkpoints and summaries");
  series_train_defaults(config);
  cmd->add_option("--config", config_path,
                  "TOML file setting any of these options but --db (flags win); a run's "
                  "config.toml repeats it");
  add_series_train_options(cmd, config, options);
  return cmd;
}

namespace {

void add_series_train_command(CLI::App* ts) {
  auto config = std::make_shared<TrainConfig>();
  auto o = std::make_shared<SeriesTrainOptions>();
  auto config_path = std::make_shared<std::string>();
  CLI::App* cmd = add_series_train_parser(*ts, *config, *o, *config_path);
  cmd->callback(naming_flags(cmd, [cmd, config, o, config_path] {
    if (!config_path->empty()) apply_config_file(*cmd, *config_path);
    const SeriesTrainSummary s = train_series_autoencoder(*config, *o, Communicator::world());
    if (Communicator::world().rank() != 0) return;
    fmt::print("stopped: {}; train loss {:.5f}, validation loss {:.5f}; {:.0f} windows/s\n",
               s.stop_reason, s.train_loss, s.validation_loss, s.windows_per_sec);
    if (s.target_s >= 0)
      fmt::print("target loss {} reached at step {} after {:.2f} s\n", o->target_loss,
                 s.target_step, s.target_s);
    fmt::print("run directory: {}\n", s.run_dir);
  }));
}

void add_series_cluster_command(CLI::App* ts) {
  CLI::App* cmd = ts->add_subcommand(
      "cluster",
      "Encode every series with a trained autoencoder and cluster the codes with k-means (over "
      "the ranks under mpirun); write the clusters to <table>_clusters and clusters.csv");
  auto o = std::make_shared<SeriesClusterOptions>();
  add_series_data_options(cmd, o->data);
  cmd->add_option("--checkpoint,--model", o->model,
                  "A run directory of `tide timeseries train`, its model.safetensors or one of "
                  "its checkpoints")
      ->required();
  cmd->add_option("--k", o->kmeans.k, "Number of clusters")->required();
  cmd->add_option("--max-iterations", o->kmeans.max_iterations, "Lloyd iterations at most")
      ->capture_default_str();
  cmd->add_option("--tolerance", o->kmeans.tolerance,
                  "Stop when the centroids' total squared move is at most this times the codes' "
                  "mean variance per dimension")
      ->capture_default_str();
  cmd->add_option("--seed", o->kmeans.seed, "k-means++ draws")->capture_default_str();
  add_options(cmd, {option("pool", "pool", o->pool,
                           "A series' vector from its windows' codes: mean, or mean-std (mean "
                           "and standard deviation)")});
  cmd->add_option("--batch-size", o->batch_size, "Windows encoded at a time")
      ->capture_default_str();
  cmd->add_option("--silhouette-sample", o->silhouette_sample,
                  "Series the silhouette is computed on at most")
      ->capture_default_str();
  cmd->add_option("--out", o->out, "Output directory (default: runs/clusters-<time>)");
  cmd->add_flag("!--no-db", o->write_db, "Do not write <table>_clusters");
  cmd->add_option(
         "--threads", o->threads,
         "Threads per rank (0: SLURM_CPUS_PER_TASK, else the node's cores shared among its ranks)")
      ->capture_default_str();
  cmd->callback([o] {
    const SeriesClusterSummary s = cluster_series(*o, Communicator::world());
    if (Communicator::world().rank() != 0) return;
    fmt::print("k-means: {} series, k = {}, {} iteration{}{}\n", s.series, o->kmeans.k,
               s.kmeans.iterations, s.kmeans.iterations == 1 ? "" : "s",
               s.kmeans.converged ? "" : " (did not converge: --max-iterations)");
    if (s.skipped > 0)
      fmt::print(stderr, "warning: {} series shorter than a window were not clustered\n",
                 s.skipped);
    fmt::print("inertia {:.6g}; cluster sizes {}\n", s.kmeans.inertia,
               fmt::join(s.kmeans.sizes, ", "));
    if (s.scores.silhouette)
      fmt::print("silhouette {:.4f} (on {} series)\n", *s.scores.silhouette,
                 s.scores.silhouette_points);
    else
      fmt::print("silhouette undefined ({} cluster{})\n", s.scores.silhouette_clusters,
                 s.scores.silhouette_clusters == 1 ? "" : "s");
    if (s.scores.adjusted_rand_index)
      fmt::print("against the labels: adjusted Rand index {:.4f}, NMI {:.4f}\n",
                 *s.scores.adjusted_rand_index, *s.scores.nmi);
    fmt::print("clusters.csv, codes.csv and clusters.json in {}{}\n", s.out_dir,
               o->write_db ? fmt::format("; table \"{}_clusters\" written", o->data.table) : "");
  });
}

}  // namespace

void add_timeseries_command(CLI::App& app) {
  CLI::App* ts = app.add_subcommand(
      "timeseries",
      "Time series in PostgreSQL: generate, ingest, train an LSTM autoencoder, cluster its codes");
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
  auto periods = std::make_shared<std::vector<double>>(std::vector<double>{3, 5});
  gen->add_option("--periods", *periods,
                  "MIN,MAX: periods over a series, drawn uniformly (the chirp's at its start)")
      ->delimiter(',')
      ->expected(2)
      ->capture_default_str();
  gen->add_option("--seed", o->seed, "Seed of the draws")->capture_default_str();
  gen->callback([o, out, periods] {
    o->min_periods = periods->at(0);
    o->max_periods = periods->at(1);
    if (Communicator::world().rank() != 0) return;  // under mpirun, one writer
    generate_series_csv(*out, *o);
    fmt::print("{} series of {} points in {} classes written to {}\n", o->series, o->length,
               o->classes, *out);
  });
  add_ingest_command(ts);
  add_status_command(ts);
  add_federate_command(ts);
  add_series_train_command(ts);
  add_series_cluster_command(ts);
}

}  // namespace tide::cli
