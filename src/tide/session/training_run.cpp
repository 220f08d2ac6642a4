#include "tide/session/training_run.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tide/core/log.hpp"
#include "tide/kernels/parallel.hpp"
#include "tide/optim/factory.hpp"
#include "tide/optim/regularize.hpp"

namespace tide {

int default_threads(const TrainConfig& c) {
  if (c.threads > 0) return c.threads;
  const int local = Communicator::world().local_size();
  if (local <= 1) return 0;  // one per core
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / local);
}

std::unique_ptr<Optimizer> make_configured_optimizer(const Module& model, const TrainConfig& c,
                                                     double lr) {
  return make_optimizer(model.parameters(), OptimizerConfig{.name = c.optimizer,
                                                            .lr = lr,
                                                            .momentum = c.momentum,
                                                            .nesterov = c.nesterov,
                                                            .weight_decay = c.weight_decay,
                                                            .beta1 = c.beta1,
                                                            .beta2 = c.beta2,
                                                            .eps = c.eps,
                                                            .trust = c.lars_trust,
                                                            .decay_1d = !c.no_decay_bias_norm});
}

int64_t total_steps(const TrainConfig& c, int64_t per_epoch) {
  int64_t total = 0;
  const bool overflow = __builtin_mul_overflow(c.epochs, per_epoch, &total);
  // --max-steps below the epochs' steps ends the run first, however many epochs were asked.
  if (c.max_steps > 0 && (overflow || total == 0 || c.max_steps < total)) return c.max_steps;
  TIDE_CHECK(!overflow,
             "--epochs {} of {} steps each is more steps than fit in 64 bits: give fewer epochs "
             "or a --max-steps",
             c.epochs, per_epoch);
  return total;
}

ScheduleOptions schedule_options(const TrainConfig& c, int64_t per_epoch) {
  ScheduleOptions o = c.schedule;
  if (c.warmup_epochs > 0) {
    const double steps = c.warmup_epochs * static_cast<double>(per_epoch);
    TIDE_CHECK(steps < 0x1p62,
               "--warmup-epochs {} of {} steps each is more steps than fit in 64 "
               "bits",
               c.warmup_epochs, per_epoch);
    o.warmup_steps = std::max<int64_t>(1, std::llround(steps));
  }
  return o;
}

void make_reducer(GradientAveraging& out, const Module& model, const Communicator& comm,
                  const TrainConfig& c) {
  // auto: overlap needs a core for the Reducer's thread; where compute threads take them
  // all, an allreduce during backward only takes their cycles (measured: bench/README.md).
  const bool spare_core = static_cast<int64_t>(Communicator::world().local_size()) * num_threads() <
                          static_cast<int64_t>(std::thread::hardware_concurrency());
  out.overlap = c.overlap == "on" || (c.overlap == "auto" && spare_core);
  if (comm.size() > 1)
    out.reducer.emplace(
        model.parameters(), comm,
        ReducerOptions{.bucket_bytes = static_cast<int64_t>(c.bucket_mb * 1e6),
                       .first_bucket_bytes = static_cast<int64_t>(c.first_bucket_mb * 1e6),
                       .overlap = out.overlap});
}

namespace {

// The model flags ("--model mlp --hidden 64") recorded in the config.toml of the run
// directory that holds `checkpoint` (<run>/checkpoints/step-N.json), the last value of each
// key; empty when there is none. Resuming reads it before this run rewrites it.
std::string model_flags_of_run(const std::string& checkpoint) {
  const std::filesystem::path config =
      std::filesystem::path(checkpoint).parent_path().parent_path() / "config.toml";
  std::ifstream in(config);
  std::vector<std::pair<std::string, std::string>> flags;
  for (std::string line; std::getline(in, line);) {
    const size_t eq = line.find(" = ");
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq);
    if (key != "model" && key != "hidden" && key != "latent" && key != "layers" && key != "code")
      continue;
    std::string value = line.substr(eq + 3);
    if (value.size() >= 2 && value.front() == '"') value = value.substr(1, value.size() - 2);
    const auto same = [&](const auto& f) { return f.first == key; };
    if (const auto it = std::find_if(flags.begin(), flags.end(), same); it != flags.end())
      it->second = value;
    else
      flags.emplace_back(key, value);
  }
  std::string out;
  for (const auto& [key, value] : flags)
    out += fmt::format("{}--{} {}", out.empty() ? "" : " ", key, value);
  return out;
}

}  // namespace

ResumePoint resume_run(const TrainConfig& c, CheckpointStore& store, const std::string& config_hash,
                       Module& model, Optimizer& optimizer, LrSchedule& schedule,
                       const Communicator& comm, const std::string& model_flags) {
  const int ranks = comm.size();
  ResumePoint p;
  p.state = TrainingState{.seed = c.seed, .world_size = ranks, .config_hash = config_hash};
  if (c.resume != "never") {
    std::optional<Checkpoint> ck =
        c.resume == "auto" ? store.load_newest() : CheckpointStore::load(c.resume);
    if (ck) {
      TIDE_CHECK(ck->state.world_size == ranks,
                 "{} was written by a run of {} rank{}; this one has {}: resume with {} ranks "
                 "for the same result, or start afresh with --resume never",
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
        const std::string writer = model_flags_of_run(ck->path);
        TIDE_FAIL(
            "checkpoint {} was written by a run with another model{}; this run has {}: {}; "
            "resume with the model flags of that run, or start afresh with --resume never or "
            "another --run-dir",
            ck->path, writer.empty() ? "" : fmt::format(" ({})", writer), model_flags, e.what());
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

void apply_update(StepResult& r, bool nonfinite, bool want_grad_norm, const Module& model,
                  Optimizer& optimizer, const TrainConfig& c, const Communicator& comm,
                  int64_t step) {
  double any = nonfinite ? 1 : 0;
  if (comm.size() > 1) {  // a non-finite loss anywhere made every rank's gradients non-finite
    Tensor t = Tensor::full({1}, any, DType::f64);
    comm.allreduce(t, ReduceOp::max, fmt::format("the loss check of step {}", step + 1));
    any = t.data<double>()[0];
  }
  if (any != 0) {
    r.skipped = true;  // the parameters stay as they were; NanGuardHook decides
    return;
  }
  if (want_grad_norm) r.grad_norm = grad_norm(model.parameters());
  if (c.l1 > 0) add_l1_gradient(model.parameters(), c.l1, true);
  if (c.clip_norm > 0) clip_grad_norm(model.parameters(), c.clip_norm);
  if (c.clip_value > 0) clip_grad_value(model.parameters(), c.clip_value);
  optimizer.step();
}

StandardHooks add_standard_hooks(Session& session, const HookInputs& in, const TrainConfig& c,
                                 CheckpointStore& store, const TrainingState& start,
                                 LrSchedule& schedule, const Optimizer& optimizer) {
  const auto lr_now = [&optimizer] { return optimizer.lr(); };
  StandardHooks h;
  session.add_hook(std::make_shared<StopAtStepHook>(in.total));
  h.nan_guard = std::make_shared<NanGuardHook>(c.nan_policy == "skip");
  session.add_hook(h.nan_guard);
  session.add_hook(std::make_shared<MetricsHook>(c.log_every, in.metrics, in.progress, lr_now));
  h.evaluation = std::make_shared<EvaluationHook>(
      in.evaluate, in.metrics, lr_now, in.writer && in.log_evaluation, in.evaluate_train);
  session.add_hook(h.evaluation);
  if (c.schedule.kind == "plateau")
    session.add_hook(std::make_shared<PlateauHook>(*h.evaluation, schedule, in.writer));
  if (c.early_stopping > 0)
    session.add_hook(std::make_shared<EarlyStoppingHook>(*h.evaluation, c.early_stopping));
  h.summaries =
      std::make_shared<SummaryHook>(c.summary_every_steps, in.events, *h.evaluation, lr_now);
  session.add_hook(h.summaries);
  h.checkpoints = std::make_shared<CheckpointHook>(
      store, c.checkpoint_every_secs, c.checkpoint_every_steps, in.snapshot, start,
      c.schedule.kind == "plateau" ? std::function<std::vector<double>()>([&schedule] {
        const std::array<double, 3> v = schedule.state();
        return std::vector<double>(v.begin(), v.end());
      })
                                   : nullptr);
  session.add_hook(h.checkpoints);
  return h;
}

void check_final_checkpoint(const StandardHooks& hooks, bool writer, int64_t steps) {
  if (writer && !hooks.checkpoints->last_error().empty())
    TIDE_FAIL("the final checkpoint of step {} was not written: {}", steps,
              hooks.checkpoints->last_error());
}

void check_not_diverged(const StandardHooks& hooks, const Session& session) {
  TIDE_CHECK(!hooks.nan_guard->stopped(session), "training diverged: {}", session.stop_reason());
}

std::string run_toml(int ranks, int64_t global_batch, double lr) {
  return fmt::format(
      "\n# Set by the run, not read back.\n[run]\nranks = {}\nglobal-batch = {}\nlr-scaled = {}\n",
      ranks, global_batch, lr);
}

}  // namespace tide
