#include "tide/train/trainer.hpp"

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "tide/autograd/ops.hpp"
#include "tide/core/log.hpp"
#include "tide/data/mnist.hpp"
#include "tide/dist/reducer.hpp"
#include "tide/dist/replicate.hpp"
#include "tide/kernels/parallel.hpp"
#include "tide/optim/schedule.hpp"
#include "tide/optim/sgd.hpp"
#include "tide/tensor/safetensors.hpp"
#include "tide/train/datasets.hpp"
#include "tide/train/evaluate.hpp"
#include "tide/train/metrics.hpp"
#include "tide/train/models.hpp"
#include "tide/train/progress.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.flush();
  TIDE_CHECK(out.good(), "{}: write failed", path.string());
}

void write_summary(const fs::path& path, const TrainConfig& c, const TrainSummary& s, int ranks,
                   int64_t global_batch) {
  const nlohmann::ordered_json j = {
      {"model", c.model},
      {"dataset", c.dataset},
      {"test_accuracy", s.test_accuracy},
      {"test_loss", s.test_loss},
      {"train_loss", s.train_loss},
      {"epochs", s.epochs},
      {"steps", s.steps},
      {"samples_per_sec", s.samples_per_sec},
      {"wall_s", s.wall_s},
      {"parameters", s.parameters},
      {"batch_size", c.batch_size},
      {"ranks", ranks},
      {"accumulate", c.accumulate},
      {"global_batch", global_batch},
      {"threads", num_threads()},
  };
  write_text(path, j.dump(2) + "\n");
}

// Threads per rank when --threads is 0: the node's cores shared among its ranks.
int default_threads(const TrainConfig& c) {
  if (c.threads > 0) return c.threads;
  const int local = Communicator::world().local_size();
  if (local <= 1) return 0;  // one per core
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / local);
}

// What every rank of a team must agree on: the model's parameters and the flags that
// change what is computed (not where files go or how many threads run).
std::string agreement_text(const Module& model, const TrainConfig& c) {
  TrainConfig shared = c;
  shared.run_dir.clear();
  shared.data_dir.clear();
  shared.threads = 0;
  shared.prefetch = 0;
  return describe_parameters(model.named_parameters()) + to_toml(shared);
}

// Rank 0's buffers (batch norm's running statistics) on every rank, before evaluating or
// saving: each rank's own track only its share of the data.
void broadcast_buffers(const Module& model, const Communicator& comm) {
  if (comm.size() == 1) return;
  TensorMap state = model.state_dict();
  for (const auto& [name, p] : model.named_parameters()) state.erase(name);
  for (auto& [name, t] : state) comm.broadcast(t, 0, "the broadcast of buffer " + name);
}

// Sums over the ranks of one logging window.
struct Window {
  double loss = 0, steps = 0, correct = 0, examples = 0;
};

}  // namespace

std::string default_run_dir(const TrainConfig& c) {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  return fmt::format("runs/{}-{}-{}", c.model, c.dataset, stamp);
}

TrainSummary train_classifier(TrainConfig c) {
  return train_classifier(std::move(c), Communicator::solo());
}

TrainSummary train_classifier(TrainConfig c, const Communicator& comm) {
  validate(c);
  const bool writer = comm.rank() == 0;
  const int ranks = comm.size();
  set_num_threads(default_threads(c));
  if (c.data_dir.empty() && c.dataset != "folder") c.data_dir = default_data_dir(c.dataset);
  if (c.run_dir.empty()) c.run_dir = default_run_dir(c);
  std::optional<StallWatchdog> watchdog;
  if (ranks > 1) watchdog.emplace(comm, c.stall_timeout);

  const DataSplits data = load_datasets(c);
  const std::shared_ptr<Dataset>& train_set = data.train;
  const std::shared_ptr<Dataset>& test_set = data.test;

  RngStream init_rng(c.seed, RngPurpose::init);
  std::shared_ptr<Module> model =
      make_model(c.model, train_set->sample_shape(), data.classes, init_rng);
  replicate_parameters(model->named_parameters(), agreement_text(*model, c), comm);

  const int64_t global_batch = c.batch_size * ranks * c.accumulate;
  const double lr = c.lr * lr_scale_factor(c, global_batch);
  Sgd optimizer(model->parameters(), SgdOptions{.lr = lr,
                                                .momentum = c.momentum,
                                                .weight_decay = c.weight_decay,
                                                .nesterov = c.nesterov});
  const auto train_sampler = std::make_shared<DistributedSampler>(
      train_set->size(), comm.rank(), ranks, c.batch_size, true, c.seed);
  DataLoader train_loader(train_set, train_sampler,
                          LoaderOptions{.batch_size = c.batch_size, .prefetch = c.prefetch});
  const int64_t eval_batch = std::max<int64_t>(c.batch_size, 256);
  DataLoader test_loader(
      test_set,
      std::make_shared<DistributedSampler>(test_set->size(), comm.rank(), ranks, eval_batch, false,
                                           0),
      LoaderOptions{.batch_size = eval_batch, .shuffle = false, .prefetch = c.prefetch});
  // A step is `accumulate` micro-batches; an epoch's last micro-batches that do not fill a
  // step are left out.
  const int64_t per_epoch = train_loader.batches_per_epoch() / c.accumulate;
  TIDE_CHECK(per_epoch > 0,
             "an epoch has {} batches of {} per rank, fewer than --accumulate {}: nothing to "
             "train on",
             train_loader.batches_per_epoch(), c.batch_size, c.accumulate);
  int64_t total = c.epochs * per_epoch;
  if (c.max_steps > 0 && (total == 0 || c.max_steps < total)) total = c.max_steps;
  const LrSchedule schedule(lr, total, c.schedule);
  const int64_t epochs_to_run = (total + per_epoch - 1) / per_epoch;
  const double grad_seed = 1.0 / static_cast<double>(ranks * c.accumulate);
  std::optional<Reducer> reducer;
  // auto: overlap needs a core for the Reducer's thread; where compute threads take them
  // all, an allreduce during backward only takes their cycles (measured: bench/README.md).
  const bool spare_core = static_cast<int64_t>(Communicator::world().local_size()) * num_threads() <
                          static_cast<int64_t>(std::thread::hardware_concurrency());
  const bool overlap = c.overlap == "on" || (c.overlap == "auto" && spare_core);
  if (ranks > 1)
    reducer.emplace(
        model->parameters(), comm,
        ReducerOptions{.bucket_bytes = static_cast<int64_t>(c.bucket_mb * 1e6),
                       .first_bucket_bytes = static_cast<int64_t>(c.first_bucket_mb * 1e6),
                       .overlap = overlap});

  if (writer) {
    std::error_code ec;
    fs::create_directories(c.run_dir, ec);
    TIDE_CHECK(!ec, "{}: cannot create the run directory: {}", c.run_dir, ec.message());
    write_text(fs::path(c.run_dir) / "config.toml",
               to_toml(c) + fmt::format("\n# Set by the run, not read back.\n[run]\nranks = {}\n"
                                        "global-batch = {}\nlr-scaled = {}\n",
                                        ranks, global_batch, lr));
    log_info("{}: {} parameters; {} training and {} test examples; {} steps", c.model,
             model->num_parameters(), train_set->size(), test_set->size(), total);
    log_info(
        "global batch {} = {} per rank x {} rank{} x {} micro-batch{}; lr {}{}; {} thread{} "
        "per rank",
        global_batch, c.batch_size, ranks, ranks > 1 ? "s" : "", c.accumulate,
        c.accumulate > 1 ? "es" : "", lr,
        c.lr_scaling == "none" ? "" : fmt::format(" ({} scaling of {})", c.lr_scaling, c.lr),
        num_threads(), num_threads() > 1 ? "s" : "");
    if (ranks > 1)
      log_info("gradients averaged in {} bucket{}, {}", reducer->layout().size(),
               reducer->layout().size() > 1 ? "s" : "",
               overlap ? "during backward"
                       : "after backward (--overlap off, or auto with no core to spare)");
  }
  std::optional<MetricsWriter> metrics;
  if (writer) metrics.emplace((fs::path(c.run_dir) / "metrics.csv").string());

  TrainSummary s;
  s.run_dir = c.run_dir;
  s.parameters = model->num_parameters();
  Progress progress(writer ? stderr : nullptr, total, c.log_every);
  const auto start = Clock::now();
  auto window_start = start;
  Window window;
  double epoch_loss = 0;
  int64_t trained_examples = 0;
  EvalResult eval;
  for (int64_t epoch = 0; epoch < epochs_to_run; ++epoch) {
    train_set->set_epoch(epoch);
    train_loader.start_epoch(epoch);
    int64_t epoch_steps = 0;
    epoch_loss = 0;
    while (s.steps < total && epoch_steps < per_epoch) {
      optimizer.zero_grad();
      optimizer.set_lr(schedule.at(s.steps));
      model->begin_step(s.steps);
      double step_loss = 0;
      for (int64_t micro = 0; micro < c.accumulate; ++micro) {
        std::optional<Batch> batch = train_loader.next();
        TIDE_CHECK(batch.has_value(), "the data loader ended an epoch early");
        const Variable logits = (*model)(Variable(batch->inputs));
        const Variable loss = cross_entropy(logits, batch->targets);
        const double loss_value = loss.value().item();
        TIDE_CHECK(std::isfinite(loss_value),
                   "training diverged: the loss is {} at step {} (epoch {}); try a smaller --lr "
                   "(now {})",
                   loss_value, s.steps + 1, epoch + 1, c.lr);
        if (reducer && micro == c.accumulate - 1) reducer->prepare(s.steps);
        // Seeded with 1 / (ranks * K): the Reducer's sum over the ranks of the K summed
        // micro-batch gradients is then their mean.
        loss.backward(Tensor::full(loss.shape(), grad_seed, loss.dtype()));
        const int64_t n = batch->targets.numel();
        trained_examples += n;
        window.examples += static_cast<double>(n);
        window.correct += static_cast<double>(count_correct(logits.value(), batch->targets));
        step_loss += loss_value / static_cast<double>(c.accumulate);
      }
      if (reducer) reducer->finish();
      optimizer.step();

      ++s.steps;
      ++epoch_steps;
      window.steps += 1;
      window.loss += step_loss;
      epoch_loss += step_loss;
      const double local_rate =
          window.examples * ranks / std::max(seconds_since(window_start), 1e-9);
      progress.update(s.steps, epoch, window.loss / window.steps, local_rate);
      if (s.steps % c.log_every == 0) {
        Tensor sums =
            Tensor::from<double>({4}, {window.loss, window.steps, window.correct, window.examples});
        comm.allreduce(sums, ReduceOp::sum, fmt::format("the metrics of step {}", s.steps));
        const double* w = sums.data<double>();
        if (metrics)
          metrics->write({s.steps, static_cast<double>(s.steps) / static_cast<double>(per_epoch),
                          "train", w[0] / w[1], w[2] / w[3], optimizer.lr(),
                          w[3] / std::max(seconds_since(window_start), 1e-9),
                          seconds_since(start)});
        window = Window{};
        window_start = Clock::now();
      }
    }
    broadcast_buffers(*model, comm);
    eval = evaluate(*model, test_loader, comm);
    progress.finish_line();
    Tensor loss_sum = Tensor::from<double>({2}, {epoch_loss, static_cast<double>(epoch_steps)});
    comm.allreduce(loss_sum, ReduceOp::sum, fmt::format("the train loss of epoch {}", epoch + 1));
    s.train_loss = loss_sum.data<double>()[1] > 0
                       ? loss_sum.data<double>()[0] / loss_sum.data<double>()[1]
                       : 0.0;
    if (metrics)
      metrics->write({s.steps, static_cast<double>(s.steps) / static_cast<double>(per_epoch),
                      "test", eval.loss, eval.accuracy, optimizer.lr(), 0.0, seconds_since(start)});
    if (writer)
      log_info("epoch {}: train loss {:.4f}, test loss {:.4f}, test accuracy {:.4f}", epoch + 1,
               s.train_loss, eval.loss, eval.accuracy);
  }
  s.wall_s = seconds_since(start);
  s.test_accuracy = eval.accuracy;
  s.test_loss = eval.loss;
  s.epochs = static_cast<double>(s.steps) / static_cast<double>(per_epoch);
  s.samples_per_sec = static_cast<double>(trained_examples) * ranks / std::max(s.wall_s, 1e-9);
  if (writer) {
    save_safetensors((fs::path(c.run_dir) / "model.safetensors").string(), model->state_dict(),
                     {{"model", c.model}, {"steps", std::to_string(s.steps)}});
    write_summary(fs::path(c.run_dir) / "summary.json", c, s, ranks, global_batch);
  }
  return s;
}

}  // namespace tide
