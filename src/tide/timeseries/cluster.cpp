#include "tide/timeseries/series.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tide/autograd/ops.hpp"
#include "tide/data/postgres_source.hpp"
#include "tide/data/window_stream.hpp"
#include "tide/distributed/gather.hpp"
#include "tide/kernels/parallel.hpp"
#include "tide/report/files.hpp"
#include "tide/report/projector.hpp"
#include "tide/session/checkpoint.hpp"
#include "tide/session/training_run.hpp"
#include "tide/tensor/safetensors.hpp"
#include "tide/timeseries/source.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;

// The model of `path` (a run directory, its model.safetensors, or a checkpoint of it):
// options from the run's autoencoder.json, weights from model.safetensors or the checkpoint.
struct TrainedModel {
  AutoencoderOptions options;
  WindowSpec windows;
  TensorMap weights;
  std::string from;
};

TrainedModel load_trained_model(const std::string& path) {
  TIDE_CHECK(!path.empty(), "--model is required: a run directory of `tide timeseries train`");
  TIDE_CHECK(fs::exists(path), "{}: no such run directory or file", path);
  fs::path dir = fs::is_directory(path) ? fs::path(path) : fs::path(path).parent_path();
  if (dir.filename() == "checkpoints") dir = dir.parent_path();
  const fs::path json_path = dir / "autoencoder.json";
  std::ifstream in(json_path);
  TIDE_CHECK(in.good(), "{}: not found; is {} a run directory of `tide timeseries train`?",
             json_path.string(), dir.string());
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    TIDE_FAIL("{}: not valid JSON: {}", json_path.string(), e.what());
  }
  TrainedModel m;
  try {
    m.options = AutoencoderOptions{.hidden = j.at("hidden").get<int64_t>(),
                                   .latent = j.at("latent").get<int64_t>(),
                                   .layers = j.at("layers").get<int64_t>(),
                                   .code = j.at("code").get<std::string>()};
    m.windows = WindowSpec{.length = j.at("window").get<int64_t>(),
                           .stride = j.at("stride").get<int64_t>()};
  } catch (const nlohmann::json::exception& e) {
    TIDE_FAIL("{}: {}", json_path.string(), e.what());
  }
  if (fs::is_directory(path)) {
    const fs::path final_model = dir / "model.safetensors";
    if (fs::exists(final_model)) {
      m.from = final_model.string();
      m.weights = load_safetensors(m.from);
    } else {
      std::optional<Checkpoint> ck =
          CheckpointStore((dir / "checkpoints").string(), 0).load_newest();
      TIDE_CHECK(ck.has_value(), "{}: no model.safetensors and no checkpoint", dir.string());
      m.from = ck->path;
      m.weights = std::move(ck->model);
    }
  } else if (fs::path(path).parent_path().filename() == "checkpoints") {
    Checkpoint ck = CheckpointStore::load(path);
    m.from = ck.path;
    m.weights = std::move(ck.model);
  } else {
    m.from = path;
    m.weights = load_safetensors(path);
  }
  return m;
}

void check_cluster_options(const SeriesClusterOptions& o) {
  TIDE_CHECK(o.kmeans.k >= 1, "--k must be a positive integer, got {}", o.kmeans.k);
  TIDE_CHECK(o.batch_size >= 1 && o.batch_size <= (int64_t{1} << 32),
             "--batch-size must be a positive integer of at most {}, got {}", int64_t{1} << 32,
             o.batch_size);
  TIDE_CHECK(o.kmeans.max_iterations >= 1, "--max-iterations must be positive, got {}",
             o.kmeans.max_iterations);
  TIDE_CHECK(o.kmeans.tolerance >= 0 && std::isfinite(o.kmeans.tolerance),
             "--tolerance must be a finite number >= 0, got {}", o.kmeans.tolerance);
  TIDE_CHECK(o.threads >= 0 && o.threads <= 4096,
             "--threads must be in [0, 4096] (0: SLURM_CPUS_PER_TASK, else the node's cores shared "
             "among its ranks), got {}",
             o.threads);
  TIDE_CHECK(o.silhouette_sample >= 2, "--silhouette-sample must be at least 2, got {}",
             o.silhouette_sample);
}

// Series, one row each: id, label, cluster, distance to its centroid and its vector of `dims`
// values (codes row-major).
struct SeriesTable {
  std::vector<int64_t> ids, labels, clusters;
  std::vector<double> distances, codes;
  int64_t dims = 0;
};

// Each series' vector of this rank's stream: the mean of its windows' codes, and with
// `with_std` their standard deviation too (the windows come in series order).
SeriesTable encode_series(LstmAutoencoder& model, WindowStream& stream, int64_t latent,
                          bool with_std) {
  SeriesTable t;
  t.dims = with_std ? 2 * latent : latent;
  std::vector<double> sums;  // per series: the codes' sum, then their squares' sum
  std::vector<int64_t> ordinals, windows_of;
  NoGradGuard no_grad;
  stream.start_epoch(0);
  while (std::optional<WindowBatch> batch = stream.next()) {
    const Tensor code = model.encode(Variable(batch->inputs)).value();
    const float* c = code.data<float>();
    for (size_t i = 0; i < batch->series.size(); ++i) {
      if (ordinals.empty() || ordinals.back() != batch->series[i]) {
        ordinals.push_back(batch->series[i]);
        t.ids.push_back(batch->series_ids[i]);
        t.labels.push_back(batch->labels[i]);
        windows_of.push_back(0);
        sums.resize(sums.size() + 2 * static_cast<size_t>(latent), 0.0);
      }
      double* row = sums.data() + sums.size() - 2 * static_cast<size_t>(latent);
      for (int64_t j = 0; j < latent; ++j) {
        const double v = c[static_cast<int64_t>(i) * latent + j];
        row[j] += v;
        row[latent + j] += v * v;
      }
      ++windows_of.back();
    }
  }
  t.codes.resize(ordinals.size() * static_cast<size_t>(t.dims));
  for (size_t p = 0; p < ordinals.size(); ++p) {
    const double n = static_cast<double>(windows_of[p]);
    const double* row = sums.data() + p * 2 * static_cast<size_t>(latent);
    double* out_row = t.codes.data() + p * static_cast<size_t>(t.dims);
    for (int64_t j = 0; j < latent; ++j) {
      const double mean = row[j] / n;
      out_row[j] = mean;
      if (with_std)
        out_row[latent + j] = std::sqrt(std::max(0.0, row[latent + j] / n - mean * mean));
    }
  }
  return t;
}

// The Euclidean distance of each row of t to the centroid of its cluster.
std::vector<double> distances_to_centroids(const SeriesTable& t, const KMeansResult& k) {
  const auto d = static_cast<size_t>(t.dims);
  std::vector<double> distance(t.ids.size());
  for (size_t p = 0; p < t.ids.size(); ++p) {
    const double* a = t.codes.data() + p * d;
    const double* b = k.centroids.data() + static_cast<size_t>(k.assignment[p]) * d;
    double s = 0;
    for (size_t j = 0; j < d; ++j) s += (a[j] - b[j]) * (a[j] - b[j]);
    distance[p] = std::sqrt(s);
  }
  return distance;
}

// Every rank's rows, in rank order, on every rank.
SeriesTable gather_table(const SeriesTable& mine, const Communicator& comm) {
  const std::vector<nlohmann::ordered_json> parts =
      allgather_json(comm,
                     {{"ids", json_bytes(mine.ids)},
                      {"labels", json_bytes(mine.labels)},
                      {"clusters", json_bytes(mine.clusters)},
                      {"distances", json_bytes(mine.distances)},
                      {"codes", json_bytes(mine.codes)}},
                     "the gathering of the clusters");
  SeriesTable all;
  all.dims = mine.dims;
  for (const nlohmann::ordered_json& part : parts) {
    const auto append = [&part](auto& to, const char* key) {
      using T = typename std::decay_t<decltype(to)>::value_type;
      const std::vector<T> from = from_json_bytes<T>(part.at(key), key);
      to.insert(to.end(), from.begin(), from.end());
    };
    append(all.ids, "ids");
    append(all.labels, "labels");
    append(all.clusters, "clusters");
    append(all.distances, "distances");
    append(all.codes, "codes");
  }
  return all;
}

// clusters.csv (with the labels when `labelled`) and codes.csv in `dir`; the rows for the
// database.
std::vector<SeriesCluster> write_tables(const std::string& dir, const SeriesTable& t,
                                        bool labelled) {
  std::string csv =
      labelled ? "series_id,cluster,distance,label\n" : "series_id,cluster,distance\n";
  std::vector<SeriesCluster> rows;
  rows.reserve(t.ids.size());
  for (size_t i = 0; i < t.ids.size(); ++i) {
    csv += fmt::format("{},{},{}{}\n", t.ids[i], t.clusters[i], t.distances[i],
                       labelled ? fmt::format(",{}", t.labels[i]) : "");
    rows.push_back({.series_id = t.ids[i], .cluster = t.clusters[i], .distance = t.distances[i]});
  }
  write_text_file((fs::path(dir) / "clusters.csv").string(), csv);
  const auto d = static_cast<size_t>(t.dims);
  std::string code_csv = "series_id";
  for (size_t j = 0; j < d; ++j) code_csv += fmt::format(",code{}", j);
  code_csv += '\n';
  for (size_t i = 0; i < t.ids.size(); ++i) {
    code_csv += fmt::format("{}", t.ids[i]);
    for (size_t j = 0; j < d; ++j) code_csv += fmt::format(",{}", t.codes[i * d + j]);
    code_csv += '\n';
  }
  write_text_file((fs::path(dir) / "codes.csv").string(), code_csv);
  // The same codes for TensorBoard's projector, coloured by cluster (and label).
  std::vector<std::string> columns = {"series_id", "cluster"};
  if (labelled) columns.emplace_back("label");
  std::vector<std::vector<std::string>> metadata;
  metadata.reserve(t.ids.size());
  for (size_t i = 0; i < t.ids.size(); ++i) {
    metadata.push_back({std::to_string(t.ids[i]), std::to_string(t.clusters[i])});
    if (labelled) metadata.back().push_back(std::to_string(t.labels[i]));
  }
  write_projector(dir, "codes", t.codes.data(), static_cast<int64_t>(t.ids.size()), t.dims, columns,
                  metadata);
  return rows;
}

}  // namespace

SeriesClusterSummary cluster_series(const SeriesClusterOptions& o, const Communicator& comm) {
  check_cluster_options(o);
  set_num_threads(default_threads(o.threads));
  const TrainedModel trained = load_trained_model(o.model);
  RngStream rng(0, RngPurpose::init);
  LstmAutoencoder model(trained.options, rng);
  model.load_state_dict(trained.weights);
  model.eval();

  SeriesData data = o.data;
  if (data.window == 0) data.window = trained.windows.length;
  if (data.stride == 0) data.stride = trained.windows.stride;
  const std::unique_ptr<TimeSeriesSource> source = open_source(data, comm);
  const SourceSummary summary = source->summary();
  const WindowSpec spec = resolve_windows(data, summary, source->describe());
  const std::vector<SeriesRange> shards = source->shards(comm.size(), spec);
  check_same_on_ranks(describe_layout(summary, shards), comm);
  const SeriesRange& mine = shards[static_cast<size_t>(comm.rank())];
  WindowStream stream(
      source->clone(), mine,
      WindowStreamOptions{
          .windows = spec, .batch_size = o.batch_size, .retry_seconds = data.retry_seconds});
  SeriesTable table =
      encode_series(model, stream, trained.options.latent, o.pool == SeriesPool::mean_std);

  SeriesClusterSummary out;
  Tensor counts = Tensor::full({2}, 0, DType::f64);
  counts.data<double>()[0] = static_cast<double>(table.ids.size());
  counts.data<double>()[1] =
      static_cast<double>(mine.series) - static_cast<double>(table.ids.size());
  comm.allreduce(counts, ReduceOp::sum, "the count of encoded series");
  out.series = static_cast<int64_t>(counts.data<double>()[0]);
  out.skipped = static_cast<int64_t>(counts.data<double>()[1]);
  out.kmeans = kmeans(table.codes, table.dims, o.kmeans, comm);
  table.clusters = out.kmeans.assignment;
  table.distances = distances_to_centroids(table, out.kmeans);

  // Rank 0 gathers every series' code and cluster, scores and writes them.
  const SeriesTable all = gather_table(table, comm);
  if (comm.rank() != 0) return out;
  const bool labelled = !all.labels.empty() && std::all_of(all.labels.begin(), all.labels.end(),
                                                           [](int64_t l) { return l >= 0; });
  out.scores = score_clustering(all.codes, all.dims, all.clusters,
                                labelled ? all.labels : std::vector<int64_t>{}, o.silhouette_sample,
                                o.kmeans.seed);
  const std::string dir =
      o.out.empty() ? fmt::format("runs/clusters-{}", local_time_stamp()) : o.out;
  create_directory(dir, "output directory");
  const std::vector<SeriesCluster> rows = write_tables(dir, all, labelled);
  nlohmann::ordered_json j = {{"model", trained.from},
                              {"table", data.table},
                              {"code", trained.options.code},
                              {"window", spec.length},
                              {"series", out.series},
                              {"skipped", out.skipped},
                              {"k", o.kmeans.k},
                              {"iterations", out.kmeans.iterations},
                              {"converged", out.kmeans.converged},
                              {"inertia", out.kmeans.inertia},
                              {"sizes", out.kmeans.sizes}};
  if (out.scores.silhouette) j["silhouette"] = *out.scores.silhouette;
  if (out.scores.adjusted_rand_index) {
    j["adjusted_rand_index"] = *out.scores.adjusted_rand_index;
    j["nmi"] = *out.scores.nmi;
  }
  write_text_file((fs::path(dir) / "clusters.json").string(), j.dump(2) + "\n");
  out.out_dir = dir;
  if (o.write_db) source->write_clusters(rows);
  return out;
}

}  // namespace tide
