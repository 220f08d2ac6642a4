#include "tide/session/training_run.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "tide/autograd/autocast.hpp"
#include "tide/core/hash.hpp"
#include "tide/core/log.hpp"
#include "tide/core/trace.hpp"
#include "tide/distributed/data_parallel.hpp"
#include "tide/distributed/reducer.hpp"
#include "tide/distributed/replicate.hpp"
#include "tide/distributed/stall_watchdog.hpp"
#include "tide/kernels/parallel.hpp"
#include "tide/optim/factory.hpp"
#include "tide/optim/regularize.hpp"
#include "tide/report/event_writer.hpp"
#include "tide/report/files.hpp"
#include "tide/report/metrics.hpp"
#include "tide/report/progress.hpp"
#include "tide/session/hooks.hpp"
#include "tide/session/trace_file.hpp"
#include "tide/tensor/safetensors.hpp"

namespace tide {

namespace {

// SLURM_CPUS_PER_TASK (srun and sbatch -c N) as a count, or 0 where it is unset or not one.
int slurm_cpus_per_task() {
  const char* text = std::getenv("SLURM_CPUS_PER_TASK");
  if (text == nullptr) return 0;
  int cpus = 0;
  const char* end = text + std::strlen(text);
  const auto [last, error] = std::from_chars(text, end, cpus);
  return error == std::errc{} && last == end && cpus > 0 ? cpus : 0;
}

}  // namespace

int default_threads(int threads) {
  if (threads > 0) return threads;
  // Slurm's CPUs of a task, but not more than this process may run on (a value inherited
  // from sbatch -c by ranks that mpirun started, and share, is no task's own).
  if (const int slurm = slurm_cpus_per_task(); slurm > 0)
    return std::min({slurm, num_procs(), 4096});
  const int local = Communicator::world().local_size();
  if (local <= 1) return 0;  // one per core
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / local);
}

int64_t total_steps(const TrainConfig& c, int64_t per_epoch) {
  int64_t total = 0;
  const bool overflow = __builtin_mul_overflow(c.epochs, per_epoch, &total);
  // --max-steps below the epochs' steps ends the run first, however many epochs were asked.
  if (c.max_steps > 0 && (overflow || total == 0 || c.max_steps < total)) return c.max_steps;
  check_option(!overflow, {"epochs", "max_steps"},
               "{0} {} of {} steps each is more steps than fit in 64 bits: give fewer epochs or a "
               "{1}",
               c.epochs, per_epoch);
  return total;
}

ScheduleOptions schedule_options(const TrainConfig& c, int64_t per_epoch) {
  ScheduleOptions o = c.schedule;
  if (c.warmup_epochs > 0) {
    const double steps = c.warmup_epochs * static_cast<double>(per_epoch);
    check_option(steps < 0x1p62, {"warmup_epochs"},
                 "{0} {} of {} steps each is more steps than fit in 64 bits", c.warmup_epochs,
                 per_epoch);
    o.warmup_steps = std::max<int64_t>(1, std::llround(steps));
  }
  return o;
}

namespace {

std::unique_ptr<Optimizer> make_configured_optimizer(const Module& model, const TrainConfig& c,
                                                     double lr) {
  return make_optimizer(model.parameters(), OptimizerConfig{.kind = c.optimizer,
                                                            .lr = lr,
                                                            .momentum = c.momentum,
                                                            .nesterov = c.nesterov,
                                                            .weight_decay = c.weight_decay,
                                                            .beta1 = c.beta1,
                                                            .beta2 = c.beta2,
                                                            .amsgrad = c.amsgrad,
                                                            .eps = c.eps,
                                                            .trust = c.lars_trust,
                                                            .decay_1d = !c.no_decay_bias_norm});
}

}  // namespace

ResumePoint resume_run(const TrainConfig& c, CheckpointStore& store, const std::string& config_hash,
                       Module& model, Optimizer& optimizer, LrSchedule& schedule,
                       const Communicator& comm, const std::string& model_flags) {
  const int ranks = comm.size();
  ResumePoint p;
  p.state = TrainingState{
      .seed = c.seed, .world_size = ranks, .config_hash = config_hash, .model_flags = model_flags};
  if (c.resume.mode != ResumeFrom::Mode::never) {
    std::optional<Checkpoint> ck = c.resume.mode == ResumeFrom::Mode::automatic
                                       ? store.load_newest()
                                       : CheckpointStore::load(c.resume.path);
    if (ck) {
      check_option(ck->state.world_size == ranks, {"resume"},
                   "{} was written by a run of {} rank{}; this one has {}: resume with {} ranks "
                   "for the same result, or start afresh with {0} never",
                   ck->path, ck->state.world_size, ck->state.world_size > 1 ? "s" : "", ranks,
                   ck->state.world_size);
      if (ck->state.config_hash != config_hash && comm.rank() == 0)
        log_warn(
            "{} was written with other settings (config hash {}, now {}): the run goes on "
            "with the new ones",
            ck->path, ck->state.config_hash, config_hash);
      try {
        model.load_state_dict(ck->model);
      } catch (const Error& e) {
        const std::string& writer = ck->state.model_flags;
        fail_option({"resume", "run_dir"},
                    "checkpoint {} was written by a run with another model{}; this run has {}: {}; "
                    "resume with the model flags of that run, or start afresh with {0} never or "
                    "another {1}",
                    ck->path, writer.empty() ? "" : fmt::format(" ({})", writer), model_flags,
                    e.what());
      }
      if (!ck->state.lr_schedule.empty()) {
        const std::vector<double>& v = ck->state.lr_schedule;
        TIDE_CHECK(v.size() == 3, "{}: lr_schedule has {} values, expected 3", ck->path, v.size());
        schedule.set_state({v[0], v[1], v[2]});
      }
      optimizer.load_state_dict(ck->optimizer);
      p.state.step = ck->state.step;
      p.state.epoch = ck->state.epoch;
      p.state.batch = ck->state.batch;
      p.from = ck->path;
    }
  }
  const std::vector<std::string> where =
      comm.allgather(fmt::format("{}", p.state.step), "the comparison of resume points");
  for (int r = 1; r < ranks; ++r)
    TIDE_CHECK(where[static_cast<size_t>(r)] == where[0],
               "rank {} would resume at step {}, rank 0 at step {}: every rank must see the "
               "same run directory {}",
               r, where[static_cast<size_t>(r)], where[0], c.run_dir);
  return p;
}

std::string run_toml(int ranks, int64_t global_batch, double lr) {
  return fmt::format(
      "\n# Set by the run, not read back.\n[run]\nranks = {}\nglobal-batch = {}\nlr-scaled = {}\n",
      ranks, global_batch, lr);
}

namespace {

using Clock = std::chrono::steady_clock;

// What one TrainingRun::train builds around the task before its loop.
struct RunParts {
  RunParts(const TrainConfig& config, const Communicator& comm_, TrainingTask& task_)
      : c(config), comm(comm_), task(task_), model(task_.model()) {}
  const TrainConfig& c;
  const Communicator& comm;
  TrainingTask& task;
  Module& model;
  bool writer = false;
  int64_t per_epoch = 0, total = 0, global_batch = 0;
  double lr = 0;
  // The precision that runs here (f32 where bf16 was asked and is not native: `why` says so).
  Precision precision = Precision::f32;
  std::string precision_why;
  ScheduleOptions schedule_options;
  std::unique_ptr<Optimizer> optimizer;
  std::unique_ptr<LrSchedule> schedule;
  std::unique_ptr<DataParallel> parallel;
  std::unique_ptr<CheckpointStore> store;
  ResumePoint start;
  std::optional<MetricsWriter> metrics;
  std::optional<EventWriter> events;
  std::unique_ptr<Progress> progress;
  std::shared_ptr<NanGuardHook> nan_guard;
  std::shared_ptr<SummaryHook> summaries;
  std::shared_ptr<CheckpointHook> checkpoints;
  int64_t trained = 0;  // examples this rank trained on
};

// Steps, rate, optimizer, schedule and data parallelism of the task's data and model.
void build_training(RunParts& p) {
  const TrainConfig& c = p.c;
  p.precision = runnable_precision(c.precision, &p.precision_why);
  const int64_t batches = p.task.batches_per_epoch();
  // A step is `accumulate` micro-batches; an epoch's last micro-batches that do not fill a
  // step are left out.
  p.per_epoch = batches / c.accumulate;
  check_option(p.per_epoch > 0, {"accumulate"},
               "an epoch has {} batches of {} per rank, fewer than {0} {}: nothing to train on",
               batches, c.batch_size, c.accumulate);
  p.total = total_steps(c, p.per_epoch);
  p.global_batch = global_batch(c, p.comm.size());
  p.lr = c.lr * lr_scale_factor(c, p.global_batch);
  p.optimizer = make_configured_optimizer(p.model, c, p.lr);
  p.schedule_options = schedule_options(c, p.per_epoch);
  p.schedule = std::make_unique<LrSchedule>(p.lr, p.total, p.schedule_options);
  p.parallel = std::make_unique<DataParallel>(
      p.model.parameters(), p.comm, c.accumulate,
      reducer_options(c, Communicator::world().local_size(), num_threads()));
}

// What every rank must agree on: the parameters and the settings that change what is
// computed (not where files go, how many threads run or how far ahead data is read).
std::string agreement_text(const RunParts& p, const RunSpec& spec) {
  TrainConfig shared = p.c;
  // The precision that runs here: a rank without native bf16 among ranks with it would
  // otherwise compute in f32 beside them unnoticed.
  shared.precision = p.precision;
  shared.run_dir.clear();
  shared.data_dir.clear();
  shared.threads = 0;
  shared.prefetch = 0;
  shared.trace.clear();
  shared.trace_steps.clear();
  return describe_parameters(p.model.named_parameters()) + to_toml(shared) + spec.agreement;
}

// Every rank resumes from the same checkpoint (rank 0's choice is checked on all), then takes
// rank 0's parameters, checked against every rank's model and settings.
void resume_and_replicate(RunParts& p, const RunSpec& spec) {
  const std::string agreement = agreement_text(p, spec);
  p.store = std::make_unique<CheckpointStore>(
      (std::filesystem::path(p.c.run_dir) / "checkpoints").string(), p.c.keep_checkpoints);
  p.start = resume_run(p.c, *p.store, text_hash(agreement), p.model, *p.optimizer, *p.schedule,
                       p.comm, spec.model_flags);
  replicate_parameters(p.model.named_parameters(), agreement, p.comm);
}

// Rank 0: the run directory, config.toml, the task's files and what the run is about.
void start_files(const RunParts& p, const RunSpec& spec) {
  const TrainConfig& c = p.c;
  const int ranks = p.comm.size();
  create_directory(c.run_dir, "run directory");
  write_text_file((std::filesystem::path(c.run_dir) / "config.toml").string(),
                  spec.config_toml + run_toml(ranks, p.global_batch, p.lr));
  p.task.write_files(c.run_dir);
  log_info("{}", p.task.describe(p.total));
  log_info(
      "global batch {} = {} per rank x {} rank{} x {} micro-batch{}; lr {}{}; {} thread{} "
      "per rank; {}",
      p.global_batch, c.batch_size, ranks, ranks > 1 ? "s" : "", c.accumulate,
      c.accumulate > 1 ? "es" : "", p.lr,
      c.lr_scaling == LrScaling::none
          ? ""
          : fmt::format(" ({} scaling of {})", name_of(c.lr_scaling), c.lr),
      num_threads(), num_threads() > 1 ? "s" : "",
      p.precision == Precision::bf16 ? "bf16 products, f32 weights" : "f32");
  if (const Reducer* reducer = p.parallel->reducer())
    log_info("gradients averaged in {} bucket{}, {}{}", reducer->layout().size(),
             reducer->layout().size() > 1 ? "s" : "",
             p.parallel->overlaps()
                 ? "during backward"
                 : "after backward (--overlap off, or auto with no core to spare)",
             reducer->compression() == GradCompression::bf16 ? ", sent as bf16" : "");
  if (!p.start.from.empty())
    log_info("resuming from {}: step {}, epoch {}, batch {} of the epoch", p.start.from,
             p.start.state.step, p.start.state.epoch + 1, p.start.state.batch);
}

// The hooks of a monitored run: stop at the last step, the non-finite guard, metrics.csv and
// the progress line, evaluation after each epoch, the plateau schedule and early stopping
// when configured, TensorBoard summaries and checkpoints. Rank 0 writes.
void add_standard_hooks(Session& session, RunParts& p, const RunSpec& spec) {
  const TrainConfig& c = p.c;
  const std::string dir = c.run_dir;
  if (p.writer) {
    p.metrics.emplace((std::filesystem::path(dir) / "metrics.csv").string(),
                      p.start.from.empty() ? -1 : p.start.state.step);
    p.progress = std::make_unique<Progress>(stderr, p.total, c.log_every, p.start.state.step);
    if (c.summary_every_steps > 0 || c.histogram_every_steps > 0 || !c.hparams.empty())
      p.events.emplace(dir);
    // TensorBoard drops the points from the first step this run makes on that the run
    // before wrote after its checkpoint.
    if (p.events && !p.start.from.empty())
      p.events->session_start(p.start.state.step + 1, "resumed from " + p.start.from);
    if (p.events && !c.hparams.empty()) {
      std::vector<std::pair<std::string, EventWriter::HParam>> hparams;
      for (const auto& [key, value] : c.hparams)
        hparams.emplace_back(key, EventWriter::hparam_from_toml(value));
      p.events->hparams_session_start(hparams, "");
    }
  }
  MetricsWriter* metrics = p.metrics ? &*p.metrics : nullptr;
  const Optimizer& optimizer = *p.optimizer;
  const auto lr_now = [&optimizer] { return optimizer.lr(); };
  session.add_hook(std::make_shared<StopAtStepHook>(p.total));
  p.nan_guard = std::make_shared<NanGuardHook>(c.nan_policy == NanPolicy::skip);
  session.add_hook(p.nan_guard);
  session.add_hook(std::make_shared<MetricsHook>(c.log_every, metrics, p.progress.get(), lr_now,
                                                 spec.counts_correct));
  session.add_hook(std::make_shared<EvaluationHook>(
      [&task = p.task] { return task.evaluate(); }, metrics, lr_now,
      p.writer && spec.log_evaluation, p.task.evaluate_train()));
  const bool plateau = c.schedule.kind == ScheduleKind::plateau;
  if (plateau) session.add_hook(std::make_shared<PlateauHook>(*p.schedule, p.writer));
  if (c.early_stopping > 0) session.add_hook(std::make_shared<EarlyStoppingHook>(c.early_stopping));
  p.summaries = std::make_shared<SummaryHook>(
      c.summary_every_steps, p.events ? &*p.events : nullptr, lr_now, spec.counts_correct);
  session.add_hook(p.summaries);
  if (c.histogram_every_steps > 0)
    session.add_hook(
        std::make_shared<HistogramHook>(c.histogram_every_steps, p.events ? &*p.events : nullptr,
                                        [&model = p.model] { return model.named_parameters(); }));
  LrSchedule& schedule = *p.schedule;
  Module& model = p.model;
  p.checkpoints = std::make_shared<CheckpointHook>(
      *p.store, c.checkpoint_every_secs, c.checkpoint_every_steps,
      [&model, &optimizer] {  // called on rank 0 only: no collectives here
        return std::pair{model.state_dict(), optimizer.state_dict()};
      },
      p.start.state,
      plateau ? std::function<std::vector<double>()>([&schedule] {
        const std::array<double, 3> v = schedule.state();
        return std::vector<double>(v.begin(), v.end());
      })
              : nullptr);
  session.add_hook(p.checkpoints);
}

// Forward and backward of one step's micro-batches; the gradients are then averaged over the
// ranks and micro-batches.
StepResult compute_step(RunParts& p, int64_t step) {
  p.optimizer->zero_grad();
  p.optimizer->set_lr(p.schedule->at(step));
  p.model.begin_step(step);
  StepResult r;
  const int64_t k = p.c.accumulate;
  auto seconds_since = [](Clock::time_point& t) {
    const Clock::time_point now = Clock::now();
    const double s = std::chrono::duration<double>(now - t).count();
    t = now;
    return s;
  };
  Clock::time_point t = Clock::now();
  for (int64_t micro = 0; micro < k; ++micro) {
    TraceSpan forward("forward");
    const MicroBatch m = p.task.forward();
    const double loss = m.loss.value().item();
    forward.end();
    r.timing.forward += seconds_since(t);
    if (!std::isfinite(loss)) r.skipped = true;
    {
      const TraceSpan backward("backward");
      p.parallel->backward(m.loss, step);
    }
    r.timing.backward += seconds_since(t);
    r.examples += m.examples;
    r.correct += m.correct;
    r.loss += loss / static_cast<double>(k);
  }
  {
    const TraceSpan reduce("reduce", "communication");
    p.parallel->finish();
  }
  r.timing.reduce = seconds_since(t);
  return r;
}

// The update, unless a rank's loss was not finite (then NanGuardHook decides).
void apply_step(RunParts& p, int64_t step, StepResult& r) {
  p.trained += r.examples;
  if (r.skipped) return;
  const TrainConfig& c = p.c;
  if (p.summaries->wants_grad_norm(step)) r.grad_norm = grad_norm(p.model.parameters());
  if (c.l1 > 0) add_l1_gradient(p.model.parameters(), c.l1, true);
  if (c.clip_norm > 0) clip_grad_norm(p.model.parameters(), c.clip_norm);
  if (c.clip_value > 0) clip_grad_value(p.model.parameters(), c.clip_value);
  p.optimizer->step();
}

RunResult result_of(const RunParts& p, const Session& session, double wall_s) {
  RunResult r;
  r.run_dir = p.c.run_dir;
  r.steps = session.state().step;
  r.epochs = static_cast<double>(r.steps) / static_cast<double>(p.per_epoch);
  r.wall_s = wall_s;
  r.samples_per_sec = static_cast<double>(p.trained) * p.comm.size() / std::max(wall_s, 1e-9);
  r.parameters = p.model.num_parameters();
  r.ranks = p.comm.size();
  r.global_batch = p.global_batch;
  r.lr = p.lr;
  r.warmup_steps = p.schedule_options.warmup_steps;
  r.history = session.evaluations();
  if (!r.history.empty()) {
    r.test_loss = r.history.back().test_loss;
    r.test_accuracy = r.history.back().test_accuracy;
    r.test_rmse = r.history.back().test_rmse;
    r.test_r2 = r.history.back().test_r2;
    r.regression = r.history.back().regression;
    r.train_loss = r.history.back().train_loss;
  }
  r.stop_reason = session.stop_reason();
  r.stopped_by_signal = Session::termination_signal();
  r.checkpoint = p.checkpoints->last_path();
  const std::vector<StepTiming>& t = session.timings();
  r.timing = median_timing(t, std::min<size_t>(5, t.size() / 2));
  return r;
}

// Rank 0, after the loop: the final checkpoint must exist; a run a signal did not stop
// leaves model.safetensors and summary.json.
void finish_files(const RunParts& p, const RunSpec& spec, const RunResult& r) {
  if (!p.writer) return;
  if (!p.checkpoints->last_error().empty())
    TIDE_FAIL("the final checkpoint of step {} was not written: {}", r.steps,
              p.checkpoints->last_error());
  if (r.stopped_by_signal != 0) return;
  const std::filesystem::path dir(p.c.run_dir);
  save_safetensors((dir / "model.safetensors").string(), p.model.state_dict(),
                   {{"model", spec.model_name}, {"steps", std::to_string(r.steps)}});
  write_text_file((dir / "summary.json").string(), p.task.summary(r).dump(2) + "\n");
}

}  // namespace

ReducerOptions reducer_options(const TrainConfig& c, int ranks_here, int threads) {
  const bool spare_core = static_cast<int64_t>(ranks_here) * threads <
                          static_cast<int64_t>(std::thread::hardware_concurrency());
  return ReducerOptions{
      .bucket_bytes = static_cast<int64_t>(c.bucket_mb * 1e6),
      .first_bucket_bytes = static_cast<int64_t>(c.first_bucket_mb * 1e6),
      .overlap = c.overlap == Overlap::on || (c.overlap == Overlap::automatic && spare_core),
      .compression = c.grad_compression};
}

TrainingRun::TrainingRun(TrainConfig config, const Communicator& comm)
    : config_(std::move(config)), comm_(comm) {
  validate_optimizer_and_run(config_);
  TIDE_CHECK(!config_.run_dir.empty(), "a training run needs a run directory");
  set_num_threads(default_threads(config_.threads));
  if (comm_.size() > 1) watchdog_ = std::make_unique<StallWatchdog>(comm_, config_.stall_timeout);
}

TrainingRun::~TrainingRun() = default;

RunResult TrainingRun::train(TrainingTask& task, const RunSpec& spec) {
  RunParts p(config_, comm_, task);
  p.writer = comm_.rank() == 0;
  build_training(p);
  resume_and_replicate(p, spec);
  if (p.writer) start_files(p, spec);

  Session::catch_termination_signals();
  Session session(comm_, p.start.state, p.per_epoch, config_.accumulate,
                  [&task](int64_t epoch, int64_t first) { task.start_epoch(epoch, first); });
  add_standard_hooks(session, p, spec);
  task.add_hooks(session);
  if (p.writer && !p.precision_why.empty()) log_warn("{}", p.precision_why);
  // Forward, backward and the evaluation hooks run on this thread, all inside the scope.
  const Autocast autocast(p.precision);
  const auto started = Clock::now();
  const std::string trace_path =
      config_.trace.empty() ? ""
                            : (std::filesystem::path(config_.run_dir) / config_.trace).string();
  const bool tracing = start_trace(comm_, trace_path, config_.trace_steps);
  // However the run ends, the trace stops recording and an experiment's session is closed:
  // a success only when the run finished.
  struct Closing {
    RunParts& p;
    bool finished = false;
    ~Closing() {
      trace::stop();
      if (!p.events || p.c.hparams.empty()) return;
      try {
        p.events->hparams_session_end(finished);
      } catch (const Error& e) {
        log_warn("{}", e.what());
      }
    }
  } closing{p};
  session.run([&p](Session& s) { return compute_step(p, s.state().step); },
              [&p](Session& s, StepResult& r) { apply_step(p, s.state().step, r); });
  if (tracing) {
    try {
      const TraceWritten w = write_trace(comm_, trace_path);
      if (p.writer) {
        log_info("trace: {} events in {} (`tide profile {}`)", w.events, trace_path, trace_path);
        if (w.dropped > 0)
          log_warn("the trace kept {} events per rank and dropped {}: narrow --trace-steps",
                   trace_event_limit(comm_.size()), w.dropped);
      }
    } catch (const Error& e) {  // rank 0's file: the training is not lost for it
      log_warn("the trace was not written: {}", e.what());
    }
  }
  const RunResult r =
      result_of(p, session, std::chrono::duration<double>(Clock::now() - started).count());
  finish_files(p, spec, r);
  closing.finished = r.stopped_by_signal == 0 && !p.nan_guard->stopped(session);
  TIDE_CHECK(!p.nan_guard->stopped(session), "training diverged: {}", session.stop_reason());
  return r;
}

}  // namespace tide
