#include "tide/timeseries/series.hpp"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tide/autograd/ops.hpp"
#include "tide/core/log.hpp"
#include "tide/data/postgres_source.hpp"
#include "tide/data/window_stream.hpp"
#include "tide/distributed/gather.hpp"
#include "tide/distributed/replicate.hpp"
#include "tide/kernels/parallel.hpp"
#include "tide/tensor/safetensors.hpp"
#include "tide/session/checkpoint.hpp"
#include "tide/report/event_writer.hpp"
#include "tide/report/files.hpp"
#include "tide/session/hooks.hpp"
#include "tide/report/metrics.hpp"
#include "tide/report/plot.hpp"
#include "tide/report/progress.hpp"
#include "tide/session/session.hpp"
#include "tide/session/training_run.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::unique_ptr<PostgresSource> open_source(const SeriesData& d, const Communicator& comm) {
  TIDE_CHECK(!d.db.empty(),
             "--db is required: a PostgreSQL connection string such as \"host=db1 "
             "dbname=series user=tide\"");
  TIDE_CHECK(d.fetch_mb > 0 && d.fetch_mb <= 1e6, "--fetch-mb must be in (0, 1e6], got {}",
             d.fetch_mb);
  TIDE_CHECK(d.retry_seconds >= 0 && std::isfinite(d.retry_seconds),
             "--retry-seconds must be a finite number >= 0, got {}", d.retry_seconds);
  TIDE_CHECK(d.window >= 0 && d.stride >= 0, "--window and --stride must be >= 0, got {} and {}",
             d.window, d.stride);
  // A connection that is not made within --retry-seconds (10 s at most) is given up, so a
  // server that accepts and never answers ends the run in about that time.
  return std::make_unique<PostgresSource>(d.db[static_cast<size_t>(comm.rank()) % d.db.size()],
                                          d.table, d.fetch_mb * 1e6,
                                          std::min(d.retry_seconds, 10.0));
}

// The windows of --window/--stride; --window 0 is the series' length, which must be common.
WindowSpec resolve_windows(const SeriesData& d, const SourceSummary& s, const std::string& where) {
  TIDE_CHECK(s.series > 0, "{} holds no series", where);
  WindowSpec spec{.length = d.window, .stride = d.stride};
  if (spec.length == 0) {
    TIDE_CHECK(s.min_length == s.max_length,
               "{}: series have {} to {} points; give --window, the points per window", where,
               s.min_length, s.max_length);
    spec.length = s.max_length;
  }
  TIDE_CHECK(spec.length <= s.max_length,
             "--window {} is longer than every series of {} (the longest has {} points)",
             spec.length, where, s.max_length);
  return spec;
}

// Every rank must see the same table (the same data through each --db).
void check_same_on_ranks(const std::string& text, const Communicator& comm) {
  const std::vector<std::string> all = comm.allgather(text, "the comparison of the tables");
  for (size_t r = 1; r < all.size(); ++r)
    TIDE_CHECK(all[r] == all[0],
               "rank {} sees {}, rank 0 sees {}: every --db must hold the same series", r, all[r],
               all[0]);
}

std::string describe_layout(const SourceSummary& s, const std::vector<SeriesRange>& shards) {
  std::string text = fmt::format("{} series, {} points, lengths {} to {}; shards", s.series,
                                 s.points, s.min_length, s.max_length);
  for (const SeriesRange& r : shards)
    text += fmt::format(" [{}, {}) {}", r.begin, r.end, r.windows);
  return text;
}

// Mean squared error of the reconstruction over every point of the stream's windows, summed
// over the ranks.
EvalResult evaluate_reconstruction(LstmAutoencoder& model, WindowStream* stream,
                                   const Communicator& comm) {
  Tensor sums = Tensor::zeros({2}, DType::f64);
  double* s = sums.data<double>();
  if (stream != nullptr) {
    const bool was_training = model.is_training();
    model.eval();
    NoGradGuard no_grad;
    stream->start_epoch(0);
    while (std::optional<WindowBatch> batch = stream->next()) {
      const Variable x(batch->inputs);
      const auto n = static_cast<double>(batch->inputs.numel());
      s[0] += mse_loss(model(x), x).value().item() * n;
      s[1] += n;
    }
    model.train(was_training);
  }
  comm.allreduce(sums, ReduceOp::sum, "the validation loss");
  EvalResult r;
  r.loss = s[1] > 0 ? s[0] / s[1] : std::nan("");
  r.accuracy = 0;
  return r;
}

// Stops the run once the mean training loss over `every` steps (all ranks) is at or below
// `target`, and keeps when.
class TargetLossHook : public Hook {
 public:
  TargetLossHook(double target, int64_t every) : target_(target), every_(every) {}
  void after_step(Session& s, const StepResult&) override {
    window_.add(s.step_results());
    if (s.state().step % every_ != 0) return;
    const double loss = window_.mean_loss();
    window_ = {};
    if (loss > target_ || seconds_ >= 0) return;
    seconds_ = s.elapsed();
    step_ = s.state().step;
    loss_ = loss;
    s.request_stop(fmt::format("reached the target loss {} (mean over the last {} steps {:.5f})",
                               target_, every_, loss));
  }
  double seconds() const { return seconds_; }
  int64_t step() const { return step_; }
  double loss() const { return loss_; }

 private:
  double target_;
  int64_t every_;
  StepSums window_;
  double seconds_ = -1;
  int64_t step_ = -1;
  double loss_ = 0;
};

// One line per epoch: the training and validation losses.
class EpochLogHook : public Hook {
 public:
  void after_evaluation(Session& s, const EpochRecord& r) override {
    if (s.comm().rank() != 0 || !r.end_of_epoch) return;
    log_info("epoch {}: train loss {:.5f}, validation loss {:.5f}", s.state().epoch, r.train_loss,
             r.test_loss);
  }
};

// The model and data flags of `tide timeseries train` as TOML keys (not --db: it may hold
// a password), the windows resolved.
std::string series_toml(const SeriesTrainOptions& o, const WindowSpec& spec) {
  return fmt::format(
      "model = \"lstm-ae\"\ntable = {}\nwindow = {}\nstride = {}\nhidden = {}\nlatent = {}\n"
      "layers = {}\ncode = {}\nshuffle-buffer = {}\nvalidation = {}\ntarget-loss = {}\n",
      toml_string(o.data.table), spec.length, spec.step(), o.model.hidden, o.model.latent,
      o.model.layers, toml_string(o.model.code), o.shuffle_buffer, o.validation, o.target_loss);
}

nlohmann::ordered_json model_json(const AutoencoderOptions& m, const WindowSpec& spec,
                                  const std::string& table) {
  return {{"model", "lstm-ae"},    {"hidden", m.hidden}, {"latent", m.latent},
          {"layers", m.layers},    {"code", m.code},     {"window", spec.length},
          {"stride", spec.step()}, {"table", table}};
}

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

}  // namespace

std::string series_config_toml(const TrainConfig& c, const SeriesTrainOptions& o,
                               const WindowSpec& windows) {
  return "# Resolved configuration of this run; `tide timeseries train --config` accepts it "
         "(with --db).\n" +
         optimizer_and_run_toml(c) + series_toml(o, windows) +
         fmt::format("retry-seconds = {}\nfetch-mb = {}\n", o.data.retry_seconds, o.data.fetch_mb);
}

namespace {

void check_series_options(const TrainConfig& c, const SeriesTrainOptions& o) {
  TIDE_CHECK(o.validation >= 0 && o.validation < 1, "--validation must be in [0, 1), got {}",
             o.validation);
  TIDE_CHECK(o.shuffle_buffer >= 0, "--shuffle-buffer must be >= 0, got {}", o.shuffle_buffer);
  TIDE_CHECK(o.target_loss >= 0, "--target-loss must be >= 0, got {}", o.target_loss);
  TIDE_CHECK(c.accumulate == 1, "--accumulate is not an option of timeseries train");
  // Far above any real model; keeps the LSTMs' parameter counts inside 64 bits.
  constexpr int64_t kMaxWidth = int64_t{1} << 20;
  TIDE_CHECK(o.model.hidden >= 1 && o.model.hidden <= kMaxWidth,
             "--hidden must be a positive integer of at most {}, got {}", kMaxWidth,
             o.model.hidden);
  TIDE_CHECK(o.model.latent >= 1 && o.model.latent <= kMaxWidth,
             "--latent must be a positive integer of at most {}, got {}", kMaxWidth,
             o.model.latent);
  TIDE_CHECK(o.model.layers >= 1 && o.model.layers <= 1024,
             "--layers must be a positive integer of at most 1024, got {}", o.model.layers);
}

// The LSTM autoencoder on windows of the series this rank streams from PostgreSQL,
// reconstructing its input (mean squared error); evaluated on the held-out series.
class SeriesTask : public TrainingTask {
 public:
  SeriesTask(const TrainConfig& c, const SeriesTrainOptions& o, const Communicator& comm)
      : c_(c), o_(o), comm_(comm), source_(open_source(o.data, comm)) {
    summary_ = source_->summary();
    spec_ = resolve_windows(o.data, summary_, source_->describe());
    held_out_ =
        static_cast<int64_t>(std::floor(o.validation * static_cast<double>(summary_.series)));
    TIDE_CHECK(o.validation == 0 || held_out_ >= 1,
               "--validation {} of {} series holds out none; raise it or give 0", o.validation,
               summary_.series);
    TIDE_CHECK(o.validation > 0 || (c.schedule.kind != "plateau" && c.early_stopping == 0),
               "--lr-schedule plateau and --early-stopping watch the validation loss: give "
               "--validation > 0");
    open_streams();
    RngStream init_rng(c.seed, RngPurpose::init);
    model_ = std::make_shared<LstmAutoencoder>(o.model, init_rng);
  }

  Module& model() override { return *model_; }
  int64_t batches_per_epoch() const override { return per_epoch_; }
  void start_epoch(int64_t epoch, int64_t first) override { train_->start_epoch(epoch, first); }
  MicroBatch forward() override {
    std::optional<WindowBatch> batch = train_->next();
    TIDE_CHECK(batch.has_value(), "the window stream ended an epoch early");
    const Variable x(batch->inputs);
    return MicroBatch{.loss = mse_loss((*model_)(x), x), .examples = batch->inputs.dim(0)};
  }
  EvalResult evaluate() override {
    return evaluate_reconstruction(*model_, validation_ ? &*validation_ : nullptr, comm_);
  }
  std::string describe(int64_t steps) const override {
    const int ranks = comm_.size();
    return fmt::format(
        "{}: {} parameters; {} series of {} ({} held out), windows of {} every {} points; "
        "{} steps of {} windows per rank x {} rank{}",
        model_->describe(), model_->num_parameters(), summary_.series, source_->describe(),
        held_out_, spec_.length, spec_.step(), steps, c_.batch_size, ranks, ranks > 1 ? "s" : "");
  }
  void add_hooks(Session& session) override {
    session.add_hook(std::make_shared<EpochLogHook>());
    if (o_.target_loss > 0) {
      target_ = std::make_shared<TargetLossHook>(o_.target_loss, c_.log_every);
      session.add_hook(target_);
    }
  }
  void write_files(const std::string& run_dir) const override {
    write_text_file((fs::path(run_dir) / "autoencoder.json").string(),
                    model_json(o_.model, spec_, o_.data.table).dump(2) + "\n");
  }
  nlohmann::ordered_json summary(const RunResult& r) const override {
    return {{"model", "lstm-ae"},
            {"table", o_.data.table},
            {"window", spec_.length},
            {"steps", r.steps},
            {"epochs", r.epochs},
            {"train_loss", r.train_loss},
            {"validation_loss", r.test_loss},
            {"wall_s", r.wall_s},
            {"windows_per_sec", r.samples_per_sec},
            {"target_loss", o_.target_loss},
            {"target_s", target_ ? target_->seconds() : -1.0},
            {"target_step", target_ ? target_->step() : int64_t{-1}},
            {"batch_size", c_.batch_size},
            {"ranks", r.ranks},
            {"global_batch", r.global_batch},
            {"lr", r.lr},
            {"parameters", r.parameters},
            {"stop_reason", r.stop_reason}};
  }

  const WindowSpec& windows() const { return spec_; }
  int64_t reconnects() const {
    return train_->reconnects() + (validation_ ? validation_->reconnects() : 0);
  }
  const TargetLossHook* target() const { return target_.get(); }

 private:
  // This rank's share of the training series, and of the held-out ones.
  void open_streams() {
    const int ranks = comm_.size();
    const int64_t split = summary_.series - held_out_;  // ordinals are 0..N-1
    const std::vector<SeriesRange> shards = source_->shards(ranks, spec_, 0, split);
    std::vector<SeriesRange> held;
    if (held_out_ > 0) held = source_->shards(ranks, spec_, split);
    check_same_on_ranks(describe_layout(summary_, shards), comm_);
    int64_t fewest = 0;
    per_epoch_ = INT64_MAX;
    for (int r = 0; r < ranks; ++r) {
      const int64_t b = shards[static_cast<size_t>(r)].windows / c_.batch_size;
      if (b < per_epoch_) {
        per_epoch_ = b;
        fewest = r;
      }
    }
    TIDE_CHECK(per_epoch_ >= 1,
               "rank {}'s share of the training series of {} has {} windows of {} points, "
               "fewer than --batch-size {}",
               fewest, source_->describe(), shards[static_cast<size_t>(fewest)].windows,
               spec_.length, c_.batch_size);
    const int prefetch = std::max(c_.prefetch, 1);
    const auto rank = static_cast<size_t>(comm_.rank());
    train_.emplace(source_->clone(), shards[rank],
                   WindowStreamOptions{.windows = spec_,
                                       .batch_size = c_.batch_size,
                                       .batches = per_epoch_,
                                       .shuffle_buffer = o_.shuffle_buffer,
                                       .seed = c_.seed,
                                       .stream_id = static_cast<uint64_t>(comm_.rank()),
                                       .prefetch = prefetch,
                                       .retry_seconds = o_.data.retry_seconds});
    if (held_out_ > 0)
      validation_.emplace(source_->clone(), held[rank],
                          WindowStreamOptions{.windows = spec_,
                                              .batch_size = std::max<int64_t>(c_.batch_size, 256),
                                              .prefetch = prefetch,
                                              .retry_seconds = o_.data.retry_seconds});
  }

  const TrainConfig& c_;
  const SeriesTrainOptions& o_;
  const Communicator& comm_;
  std::unique_ptr<PostgresSource> source_;
  SourceSummary summary_;
  WindowSpec spec_;
  int64_t held_out_ = 0, per_epoch_ = 0;
  std::optional<WindowStream> train_, validation_;
  std::shared_ptr<LstmAutoencoder> model_;
  std::shared_ptr<TargetLossHook> target_;
};

}  // namespace

SeriesTrainSummary train_series_autoencoder(TrainConfig c, SeriesTrainOptions o,
                                            const Communicator& comm) {
  check_series_options(c, o);
  c.model = "lstm-ae";
  c.dataset = "postgres";
  if (c.run_dir.empty()) c.run_dir = fmt::format("runs/lstm-ae-{}", local_time_stamp());
  TrainingRun run(c, comm);
  SeriesTask task(run.config(), o, comm);
  const WindowSpec& spec = task.windows();
  const RunResult r = run.train(
      task, RunSpec{.model_name = "lstm-ae",
                    .config_toml = series_config_toml(c, o, spec),
                    .agreement = series_toml(o, spec),
                    .model_flags = fmt::format(
                        "--model lstm-ae --hidden {} --latent {} --layers {} --code {}",
                        o.model.hidden, o.model.latent, o.model.layers, o.model.code),
                    .log_evaluation = false});
  SeriesTrainSummary s{.run_dir = r.run_dir,
                       .steps = r.steps,
                       .epochs = r.epochs,
                       .window = spec.length,
                       .train_loss = r.train_loss,
                       .validation_loss = r.test_loss,
                       .wall_s = r.wall_s,
                       .windows_per_sec = r.samples_per_sec,
                       .reconnects = task.reconnects(),
                       .stop_reason = r.stop_reason,
                       .checkpoint = r.checkpoint,
                       .history = r.history};
  if (const TargetLossHook* target = task.target()) {
    s.target_s = target->seconds();
    s.target_step = target->step();
    if (s.target_step >= 0) s.target_loss_seen = target->loss();
  }
  return s;
}

SeriesClusterSummary cluster_series(const SeriesClusterOptions& o, const Communicator& comm) {
  TIDE_CHECK(o.kmeans.k >= 1, "--k must be a positive integer, got {}", o.kmeans.k);
  TIDE_CHECK(o.batch_size >= 1 && o.batch_size <= (int64_t{1} << 32),
             "--batch-size must be a positive integer of at most {}, got {}", int64_t{1} << 32,
             o.batch_size);
  TIDE_CHECK(o.kmeans.max_iterations >= 1, "--max-iterations must be positive, got {}",
             o.kmeans.max_iterations);
  TIDE_CHECK(o.kmeans.tolerance >= 0 && std::isfinite(o.kmeans.tolerance),
             "--tolerance must be a finite number >= 0, got {}", o.kmeans.tolerance);
  TIDE_CHECK(o.threads >= 0 && o.threads <= 4096,
             "--threads must be in [0, 4096] (0: one per core), got {}", o.threads);
  TIDE_CHECK(o.pool == "mean" || o.pool == "mean-std", "--pool must be mean or mean-std, got '{}'",
             o.pool);
  TIDE_CHECK(o.silhouette_sample >= 2, "--silhouette-sample must be at least 2, got {}",
             o.silhouette_sample);
  if (o.threads > 0) set_num_threads(o.threads);
  const TrainedModel trained = load_trained_model(o.model);
  RngStream rng(0, RngPurpose::init);
  LstmAutoencoder model(trained.options, rng);
  model.load_state_dict(trained.weights);
  model.eval();

  SeriesData data = o.data;
  if (data.window == 0) data.window = trained.windows.length;
  if (data.stride == 0) data.stride = trained.windows.stride;
  const std::unique_ptr<PostgresSource> source = open_source(data, comm);
  const SourceSummary summary = source->summary();
  const WindowSpec spec = resolve_windows(data, summary, source->describe());
  const std::vector<SeriesRange> shards = source->shards(comm.size(), spec);
  check_same_on_ranks(describe_layout(summary, shards), comm);
  const SeriesRange& mine = shards[static_cast<size_t>(comm.rank())];
  WindowStream stream(
      source->clone(), mine,
      WindowStreamOptions{
          .windows = spec, .batch_size = o.batch_size, .retry_seconds = data.retry_seconds});

  // Each series' vector: the mean of its windows' codes, and with --pool mean-std their
  // standard deviation too (the windows come in series order).
  const int64_t latent = trained.options.latent;
  const bool with_std = o.pool == "mean-std";
  const int64_t d = with_std ? 2 * latent : latent;
  std::vector<double> sums;  // per series: the codes' sum, then their squares' sum
  std::vector<int64_t> ordinals, ids, labels, windows_of;
  {
    NoGradGuard no_grad;
    stream.start_epoch(0);
    while (std::optional<WindowBatch> batch = stream.next()) {
      const Tensor code = model.encode(Variable(batch->inputs)).value();
      const float* c = code.data<float>();
      for (size_t i = 0; i < batch->series.size(); ++i) {
        if (ordinals.empty() || ordinals.back() != batch->series[i]) {
          ordinals.push_back(batch->series[i]);
          ids.push_back(batch->series_ids[i]);
          labels.push_back(batch->labels[i]);
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
  }
  std::vector<double> codes(ordinals.size() * static_cast<size_t>(d));
  for (size_t p = 0; p < ordinals.size(); ++p) {
    const double n = static_cast<double>(windows_of[p]);
    const double* row = sums.data() + p * 2 * static_cast<size_t>(latent);
    double* out_row = codes.data() + p * static_cast<size_t>(d);
    for (int64_t j = 0; j < latent; ++j) {
      const double mean = row[j] / n;
      out_row[j] = mean;
      if (with_std)
        out_row[latent + j] = std::sqrt(std::max(0.0, row[latent + j] / n - mean * mean));
    }
  }

  SeriesClusterSummary out;
  Tensor counts = Tensor::full({2}, 0, DType::f64);
  counts.data<double>()[0] = static_cast<double>(ordinals.size());
  counts.data<double>()[1] =
      static_cast<double>(mine.series) - static_cast<double>(ordinals.size());
  comm.allreduce(counts, ReduceOp::sum, "the count of encoded series");
  out.series = static_cast<int64_t>(counts.data<double>()[0]);
  out.skipped = static_cast<int64_t>(counts.data<double>()[1]);
  out.kmeans = kmeans(codes, d, o.kmeans, comm);
  std::vector<double> distance(ordinals.size());
  for (size_t p = 0; p < ordinals.size(); ++p) {
    const double* a = codes.data() + p * static_cast<size_t>(d);
    const double* b = out.kmeans.centroids.data() +
                      static_cast<size_t>(out.kmeans.assignment[p]) * static_cast<size_t>(d);
    double s = 0;
    for (int64_t j = 0; j < d; ++j) s += (a[j] - b[j]) * (a[j] - b[j]);
    distance[p] = std::sqrt(s);
  }

  // Rank 0 gathers every series' code and cluster, scores and writes them.
  const std::vector<nlohmann::ordered_json> parts = allgather_json(
      comm,
      {{"ids", json_bytes(ids)},
       {"labels", json_bytes(labels)},
       {"clusters", json_bytes(out.kmeans.assignment)},
       {"distances", json_bytes(distance)},
       {"codes", json_bytes(codes)}},
      "the gathering of the clusters");
  if (comm.rank() != 0) return out;
  std::vector<int64_t> all_ids, all_labels, all_clusters;
  std::vector<double> all_distances, all_codes;
  for (const nlohmann::ordered_json& part : parts) {
    const auto append = [&part](auto& to, const char* key) {
      using T = typename std::decay_t<decltype(to)>::value_type;
      const std::vector<T> from = from_json_bytes<T>(part.at(key), key);
      to.insert(to.end(), from.begin(), from.end());
    };
    append(all_ids, "ids");
    append(all_labels, "labels");
    append(all_clusters, "clusters");
    append(all_distances, "distances");
    append(all_codes, "codes");
  }
  const bool labelled = !all_labels.empty() && std::all_of(all_labels.begin(), all_labels.end(),
                                                           [](int64_t l) { return l >= 0; });
  out.scores =
      score_clustering(all_codes, d, all_clusters, labelled ? all_labels : std::vector<int64_t>{},
                       o.silhouette_sample, o.kmeans.seed);

  const std::string dir =
      o.out.empty() ? fmt::format("runs/clusters-{}", local_time_stamp()) : o.out;
  create_directory(dir, "output directory");
  std::string csv =
      labelled ? "series_id,cluster,distance,label\n" : "series_id,cluster,distance\n";
  std::vector<SeriesCluster> rows;
  rows.reserve(all_ids.size());
  for (size_t i = 0; i < all_ids.size(); ++i) {
    csv += fmt::format("{},{},{}{}\n", all_ids[i], all_clusters[i], all_distances[i],
                       labelled ? fmt::format(",{}", all_labels[i]) : "");
    rows.push_back(
        {.series_id = all_ids[i], .cluster = all_clusters[i], .distance = all_distances[i]});
  }
  write_text_file((fs::path(dir) / "clusters.csv").string(), csv);
  std::string code_csv = "series_id";
  for (int64_t j = 0; j < d; ++j) code_csv += fmt::format(",code{}", j);
  code_csv += '\n';
  for (size_t i = 0; i < all_ids.size(); ++i) {
    code_csv += fmt::format("{}", all_ids[i]);
    for (int64_t j = 0; j < d; ++j)
      code_csv +=
          fmt::format(",{}", all_codes[i * static_cast<size_t>(d) + static_cast<size_t>(j)]);
    code_csv += '\n';
  }
  write_text_file((fs::path(dir) / "codes.csv").string(), code_csv);
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

std::vector<TimeToSolution> time_to_solution(const TrainConfig& config,
                                             const SeriesTrainOptions& options,
                                             const std::vector<int64_t>& batch_sizes,
                                             const std::vector<int>& rank_counts,
                                             const std::string& out, const Communicator& comm) {
  TIDE_CHECK(options.target_loss > 0, "--target-loss must be positive, got {}",
             options.target_loss);
  TIDE_CHECK(!batch_sizes.empty(), "--batch-sizes is empty");
  TIDE_CHECK(!rank_counts.empty(), "--ranks is empty");
  for (const int r : rank_counts) {
    TIDE_CHECK(r >= 1, "--ranks: {} is not a positive number of ranks", r);
    TIDE_CHECK(r <= comm.size(),
               "--ranks {}: the job has {} rank{}; launch it with mpirun -np {} or more", r,
               comm.size(), comm.size() > 1 ? "s" : "", r);
  }
  for (const int64_t b : batch_sizes)
    TIDE_CHECK(b >= 1, "--batch-sizes: {} is not a positive batch size", b);
  std::vector<TimeToSolution> results;
  for (const int ranks : rank_counts) {
    const bool member = comm.rank() < ranks;
    const Communicator team = comm.split(member ? 0 : 1);
    if (member) {
      for (const int64_t b : batch_sizes) {
        TrainConfig c = config;
        c.batch_size = b;
        c.resume = "never";
        c.run_dir = (fs::path(out) / fmt::format("ranks{}-batch{}", ranks, b)).string();
        if (team.rank() == 0)
          log_info("time to solution: {} rank{}, batch {}", ranks, ranks > 1 ? "s" : "", b);
        const SeriesTrainSummary s = train_series_autoencoder(c, options, team);
        results.push_back({.ranks = ranks,
                           .batch_size = b,
                           .global_batch = b * ranks,
                           .seconds = s.target_s,
                           .steps = s.target_step >= 0 ? s.target_step : s.steps,
                           .epochs = s.epochs,
                           .train_loss = s.target_s >= 0 ? s.target_loss_seen : s.train_loss,
                           .windows_per_sec = s.windows_per_sec,
                           .run_dir = s.run_dir});
      }
    }
    comm.barrier("the end of the runs on " + std::to_string(ranks) + " ranks");
  }
  // Rank 0 was in every team: its results go to every rank.
  nlohmann::ordered_json mine = nlohmann::ordered_json::array();
  for (const TimeToSolution& t : results)
    mine.push_back({{"ranks", t.ranks},
                    {"batch_size", t.batch_size},
                    {"seconds", t.seconds},
                    {"steps", t.steps},
                    {"epochs", t.epochs},
                    {"train_loss", t.train_loss},
                    {"windows_per_sec", t.windows_per_sec},
                    {"run_dir", t.run_dir}});
  const nlohmann::ordered_json all = allgather_json(comm, mine, "the time-to-solution results")[0];
  results.clear();
  for (const nlohmann::ordered_json& j : all) {
    TimeToSolution t{.ranks = j.at("ranks").get<int>(),
                     .batch_size = j.at("batch_size").get<int64_t>(),
                     .seconds = j.at("seconds").get<double>(),
                     .steps = j.at("steps").get<int64_t>(),
                     .epochs = j.at("epochs").get<double>(),
                     .train_loss = j.at("train_loss").get<double>(),
                     .windows_per_sec = j.at("windows_per_sec").get<double>(),
                     .run_dir = j.at("run_dir").get<std::string>()};
    t.global_batch = t.batch_size * t.ranks;
    results.push_back(t);
  }
  return results;
}

void write_time_to_solution_report(const std::string& out, double target_loss,
                                   const std::vector<TimeToSolution>& results) {
  std::string csv =
      "ranks,batch_size,global_batch,seconds,steps,epochs,train_loss,windows_per_sec\n";
  std::string md = fmt::format(
      "Time to a training loss of {} (mean squared error of the reconstruction, mean over "
      "--log-every steps)\n\n| ranks | batch per rank | global batch | seconds | steps | epochs | "
      "windows/s |\n|---:|---:|---:|---:|---:|---:|---:|\n",
      target_loss);
  std::map<int, Series> curves;
  for (const TimeToSolution& t : results) {
    csv += fmt::format("{},{},{},{},{},{},{},{}\n", t.ranks, t.batch_size, t.global_batch,
                       t.seconds, t.steps, t.epochs, t.train_loss, t.windows_per_sec);
    md += fmt::format("| {} | {} | {} | {} | {} | {:.2f} | {:.0f} |\n", t.ranks, t.batch_size,
                      t.global_batch,
                      t.seconds >= 0 ? fmt::format("{:.2f}", t.seconds)
                                     : fmt::format("not reached (loss {:.4f})", t.train_loss),
                      t.steps, t.epochs, t.windows_per_sec);
    Series& curve = curves[t.ranks];
    curve.label = fmt::format("{} rank{}", t.ranks, t.ranks > 1 ? "s" : "");
    if (t.seconds >= 0) curve.points.emplace_back(static_cast<double>(t.batch_size), t.seconds);
  }
  write_text_file((fs::path(out) / "time_to_solution.csv").string(), csv);
  write_text_file((fs::path(out) / "summary.md").string(), md);
  std::vector<Series> lines;
  for (auto& [ranks, curve] : curves)
    if (!curve.points.empty()) lines.push_back(curve);
  if (!lines.empty())
    draw_curves(lines, fmt::format("Time to training loss {}", target_loss), "batch size per rank",
                "seconds", (fs::path(out) / "time_to_solution.png").string());
}

}  // namespace tide
