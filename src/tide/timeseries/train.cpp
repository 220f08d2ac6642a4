#include "tide/timeseries/series.hpp"

#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tide/autograd/ops.hpp"
#include "tide/core/log.hpp"
#include "tide/data/postgres_source.hpp"
#include "tide/data/sharded_source.hpp"
#include "tide/data/window_stream.hpp"
#include "tide/report/files.hpp"
#include "tide/session/hooks.hpp"
#include "tide/session/training_run.hpp"
#include "tide/timeseries/source.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;

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
      "layers = {}\ncode = {}\nshuffle-buffer = {}\nvalidation = {}\ntarget-loss = {}\n"
      "locality = {}\n",
      toml_string(o.data.table), spec.length, spec.step(), o.model.hidden, o.model.latent,
      o.model.layers, toml_string(o.model.code), o.shuffle_buffer, o.validation, o.target_loss,
      toml_string(o.locality));
}

nlohmann::ordered_json model_json(const AutoencoderOptions& m, const WindowSpec& spec,
                                  const std::string& table) {
  return {{"model", "lstm-ae"},    {"hidden", m.hidden}, {"latent", m.latent},
          {"layers", m.layers},    {"code", m.code},     {"window", spec.length},
          {"stride", spec.step()}, {"table", table}};
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
  TIDE_CHECK(o.locality == "store" || o.locality == "shard",
             "--locality must be store or shard, got '{}'", o.locality);
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
    check_option(
        o.validation > 0 || (c.schedule.kind != ScheduleKind::plateau && c.early_stopping == 0),
        {"schedule.kind", "early_stopping"},
        "{0} plateau and {1} watch the validation loss: give --validation > 0");
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
    // Each rank's share: of the whole store, or (--locality shard) of one shard's series.
    auto* sharded = dynamic_cast<ShardedSource*>(source_.get());
    TIDE_CHECK(o_.locality == "store" || sharded != nullptr,
               "--locality shard reads a sharded store, and {} is one table", source_->describe());
    const bool local = o_.locality == "shard";
    const auto split_of = [&](int64_t begin, int64_t end) {
      if (local) return sharded->local_shares(ranks, spec_, begin, end);
      std::vector<std::pair<size_t, SeriesRange>> out;  // SIZE_MAX: the whole store
      for (const SeriesRange& r : source_->shards(ranks, spec_, begin, end))
        out.emplace_back(SIZE_MAX, r);
      return out;
    };
    const std::vector<std::pair<size_t, SeriesRange>> shares = split_of(0, split);
    std::vector<std::pair<size_t, SeriesRange>> held;
    if (held_out_ > 0) held = split_of(split, INT64_MAX);
    std::vector<SeriesRange> shards;
    for (const auto& share : shares) shards.push_back(share.second);
    check_same_on_ranks(describe_layout(summary_, shards), comm_);
    const auto source_of = [&](size_t shard) -> std::unique_ptr<TimeSeriesSource> {
      if (shard == SIZE_MAX) return source_->clone();
      return sharded->shard(shard);
    };
    if (local && comm_.rank() == 0)
      for (int r = 0; r < ranks; ++r)
        log_info("rank {} reads shard {} only: series {} to {}, {} windows", r,
                 shares[static_cast<size_t>(r)].first + 1, shards[static_cast<size_t>(r)].begin,
                 shards[static_cast<size_t>(r)].end - 1, shards[static_cast<size_t>(r)].windows);
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
    train_.emplace(source_of(shares[rank].first), shards[rank],
                   WindowStreamOptions{.windows = spec_,
                                       .batch_size = c_.batch_size,
                                       .batches = per_epoch_,
                                       .shuffle_buffer = o_.shuffle_buffer,
                                       .seed = c_.seed,
                                       .stream_id = static_cast<uint64_t>(comm_.rank()),
                                       .prefetch = prefetch,
                                       .retry_seconds = o_.data.retry_seconds});
    if (held_out_ > 0)
      validation_.emplace(source_of(held[rank].first), held[rank].second,
                          WindowStreamOptions{.windows = spec_,
                                              .batch_size = std::max<int64_t>(c_.batch_size, 256),
                                              .prefetch = prefetch,
                                              .retry_seconds = o_.data.retry_seconds});
  }

  const TrainConfig& c_;
  const SeriesTrainOptions& o_;
  const Communicator& comm_;
  std::unique_ptr<TimeSeriesSource> source_;
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
  const RunResult r =
      run.train(task, RunSpec{.model_name = "lstm-ae",
                              .config_toml = series_config_toml(c, o, spec),
                              .agreement = series_toml(o, spec),
                              .model_flags = fmt::format(
                                  "--model lstm-ae --hidden {} --latent {} --layers {} --code {}",
                                  o.model.hidden, o.model.latent, o.model.layers, o.model.code),
                              .log_evaluation = false,
                              .counts_correct = false});
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
                       .history = r.history,
                       .timing = r.timing,
                       .parameter_elements = {}};
  for (const Variable& v : task.model().parameters()) s.parameter_elements.push_back(v.numel());
  if (const TargetLossHook* target = task.target()) {
    s.target_s = target->seconds();
    s.target_step = target->step();
    if (s.target_step >= 0) s.target_loss_seen = target->loss();
  }
  return s;
}

}  // namespace tide
