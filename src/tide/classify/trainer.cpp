#include "tide/classify/trainer.hpp"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "tide/autograd/ops.hpp"
#include "tide/core/log.hpp"
#include "tide/data/mnist.hpp"
#include "tide/distributed/reducer.hpp"
#include "tide/distributed/replicate.hpp"
#include "tide/kernels/parallel.hpp"
#include "tide/optim/factory.hpp"
#include "tide/optim/regularize.hpp"
#include "tide/optim/schedule.hpp"
#include "tide/tensor/safetensors.hpp"
#include "tide/session/checkpoint.hpp"
#include "tide/classify/datasets.hpp"
#include "tide/classify/evaluate.hpp"
#include "tide/report/event_writer.hpp"
#include "tide/report/files.hpp"
#include "tide/session/hooks.hpp"
#include "tide/report/metrics.hpp"
#include "tide/models/zoo.hpp"
#include "tide/report/progress.hpp"
#include "tide/session/session.hpp"
#include "tide/session/training_run.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
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
      {"lr", s.lr},
      {"warmup_steps", s.warmup_steps},
      {"threads", num_threads()},
  };
  write_text_file(path.string(), j.dump(2) + "\n");
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

}  // namespace

std::string default_run_dir(const TrainConfig& c) {
  return fmt::format("runs/{}-{}-{}", c.model, c.dataset, local_time_stamp());
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
  std::shared_ptr<Module> model = make_model(
      c.model, train_set->sample_shape(), data.classes, init_rng,
      ModelOptions{
          .hidden = c.hidden, .dropout = c.dropout, .batch_norm = c.batch_norm, .seed = c.seed});

  const int64_t global_batch = tide::global_batch(c, ranks);
  const double lr = c.lr * lr_scale_factor(c, global_batch);
  const std::unique_ptr<Optimizer> optimizer_ptr = make_configured_optimizer(*model, c, lr);
  Optimizer& optimizer = *optimizer_ptr;
  const auto train_sampler = std::make_shared<DistributedSampler>(
      train_set->size(), comm.rank(), ranks, c.batch_size, true, c.seed);
  DataLoader train_loader(train_set, train_sampler,
                          LoaderOptions{.batch_size = c.batch_size, .prefetch = c.prefetch});
  const int64_t eval_batch = std::max<int64_t>(c.batch_size, 256);
  // --eval-train: the first N training examples, unperturbed, evaluated as the test split.
  std::optional<DataLoader> fit_loader;
  if (c.eval_train != 0) {
    const int64_t n = c.eval_train < 0 ? data.train_plain->size()
                                       : std::min(c.eval_train, data.train_plain->size());
    fit_loader.emplace(
        std::make_shared<PrefixDataset>(data.train_plain, n),
        std::make_shared<DistributedSampler>(n, comm.rank(), ranks, eval_batch, false, 0),
        LoaderOptions{.batch_size = eval_batch, .shuffle = false, .prefetch = c.prefetch});
  }
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
  const int64_t total = total_steps(c, per_epoch);
  const ScheduleOptions schedule_options = tide::schedule_options(c, per_epoch);
  LrSchedule schedule(lr, total, schedule_options);
  const double grad_seed = 1.0 / static_cast<double>(ranks * c.accumulate);
  GradientAveraging averaging;
  make_reducer(averaging, *model, comm, c);
  std::optional<Reducer>& reducer = averaging.reducer;
  const bool overlap = averaging.overlap;

  // Resume: every rank loads the same checkpoint; rank 0's choice is checked on all.
  const std::string agreement = agreement_text(*model, c);
  const std::string config_hash = text_hash(agreement);
  CheckpointStore store((fs::path(c.run_dir) / "checkpoints").string(), c.keep_checkpoints);
  const ResumePoint resumed = resume_run(c, store, config_hash, *model, optimizer, schedule, comm,
                                         fmt::format("--model {} --hidden {}", c.model, c.hidden));
  const TrainingState& start = resumed.state;
  const std::string& resumed_from = resumed.from;
  replicate_parameters(model->named_parameters(), agreement, comm);

  if (writer) {
    create_directory(c.run_dir, "run directory");
    write_text_file((fs::path(c.run_dir) / "config.toml").string(),
                    to_toml(c) + run_toml(ranks, global_batch, lr));
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
    if (!resumed_from.empty())
      log_info("resuming from {}: step {}, epoch {}, batch {} of the epoch", resumed_from,
               start.step, start.epoch + 1, start.batch);
  }
  std::optional<MetricsWriter> metrics;
  if (writer)
    metrics.emplace((fs::path(c.run_dir) / "metrics.csv").string(),
                    resumed_from.empty() ? -1 : start.step);
  MetricsWriter* metrics_ptr = metrics ? &*metrics : nullptr;

  Progress progress(writer ? stderr : nullptr, total, c.log_every, start.step);
  int64_t trained_examples = 0;
  Session::catch_termination_signals();
  Session session(comm, start, per_epoch, c.accumulate, [&](int64_t epoch, int64_t first_batch) {
    train_set->set_epoch(epoch);
    train_loader.start_epoch(epoch, first_batch);
  });
  std::optional<EventWriter> events;
  if (writer && c.summary_every_steps > 0) events.emplace(c.run_dir);
  const StandardHooks hooks = add_standard_hooks(
      session,
      HookInputs{.total = total,
                 .metrics = metrics_ptr,
                 .progress = writer ? &progress : nullptr,
                 .events = events ? &*events : nullptr,
                 .writer = writer,
                 .evaluate =
                     [&] {
                       broadcast_buffers(*model, comm);
                       return evaluate(*model, test_loader, comm);
                     },
                 .evaluate_train = fit_loader ? std::function<EvalResult()>([&] {
                   return evaluate(*model, *fit_loader, comm);
                 })
                                              : nullptr,
                 .snapshot =
                     [&] {  // called on rank 0 only: no collectives here
                       return std::pair{model->state_dict(), optimizer.state_dict()};
                     }},
      c, store, start, schedule, optimizer);
  const std::shared_ptr<EvaluationHook>& evaluation = hooks.evaluation;
  const std::shared_ptr<CheckpointHook>& checkpoints = hooks.checkpoints;

  const auto started = Clock::now();
  session.run([&](Session& sess) {
    const int64_t step = sess.state().step;
    optimizer.zero_grad();
    optimizer.set_lr(schedule.at(step));
    model->begin_step(step);
    StepResult r;
    double nonfinite = 0;
    for (int64_t micro = 0; micro < c.accumulate; ++micro) {
      std::optional<Batch> batch = train_loader.next();
      TIDE_CHECK(batch.has_value(), "the data loader ended an epoch early");
      const Variable logits = (*model)(Variable(batch->inputs));
      const Variable loss = cross_entropy(logits, batch->targets, c.label_smoothing);
      const double loss_value = loss.value().item();
      if (!std::isfinite(loss_value)) nonfinite = 1;
      if (reducer && micro == c.accumulate - 1) reducer->prepare(step);
      // Seeded with 1 / (ranks * K): the Reducer's sum over the ranks of the K summed
      // micro-batch gradients is then their mean.
      loss.backward(Tensor::full(loss.shape(), grad_seed, loss.dtype()));
      r.examples += batch->targets.numel();
      r.correct += count_correct(logits.value(), batch->targets);
      r.loss += loss_value / static_cast<double>(c.accumulate);
    }
    if (reducer) reducer->finish();
    apply_update(r, nonfinite != 0, hooks.summaries->wants_grad_norm(step), *model, optimizer, c,
                 comm, step);
    trained_examples += r.examples;
    return r;
  });

  TrainSummary s;
  s.run_dir = c.run_dir;
  s.parameters = model->num_parameters();
  s.steps = session.state().step;
  s.stop_reason = session.stop_reason();
  s.stopped_by_signal = Session::termination_signal();
  s.checkpoint = checkpoints->last_path();
  s.wall_s = seconds_since(started);
  if (evaluation->last()) {
    s.test_accuracy = evaluation->last()->accuracy;
    s.test_loss = evaluation->last()->loss;
  }
  s.train_loss = evaluation->train_loss();
  s.history = evaluation->history();
  s.lr = lr;
  s.warmup_steps = schedule_options.warmup_steps;
  s.epochs = static_cast<double>(s.steps) / static_cast<double>(per_epoch);
  s.samples_per_sec = static_cast<double>(trained_examples) * ranks / std::max(s.wall_s, 1e-9);
  check_final_checkpoint(hooks, writer, s.steps);
  if (writer && s.stopped_by_signal == 0) {
    save_safetensors((fs::path(c.run_dir) / "model.safetensors").string(), model->state_dict(),
                     {{"model", c.model}, {"steps", std::to_string(s.steps)}});
    write_summary(fs::path(c.run_dir) / "summary.json", c, s, ranks, global_batch);
  }
  check_not_diverged(hooks, session);
  return s;
}

}  // namespace tide
