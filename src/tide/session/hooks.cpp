#include "tide/session/hooks.hpp"

#include <algorithm>
#include <cmath>

#include "tide/core/log.hpp"

namespace tide {

void StopAtStepHook::check(Session& s) {
  if (s.state().step >= last_) s.request_stop(fmt::format("reached step {}", last_));
}

void StopAtEpochHook::begin(Session& s) {
  if (s.state().epoch >= epochs_) s.request_stop(fmt::format("reached epoch {}", epochs_));
}

void StopAtEpochHook::end_epoch(Session& s) {
  begin(s);
}

void NanGuardHook::after_step(Session& s, const StepResult& r) {
  if (!r.skipped) {
    in_a_row_ = 0;
    return;
  }
  ++total_;
  ++in_a_row_;
  const int64_t step = s.state().step;
  if (!skip_) {
    reason_ = fmt::format(
        "the loss is {} at step {} (epoch {}); the step was not applied. Try a smaller --lr, or "
        "--nan-policy skip to step over such batches",
        r.loss, step, s.state().epoch + 1);
    s.request_stop(reason_);
  } else if (in_a_row_ >= max_skips_) {
    reason_ = fmt::format("{} steps in a row up to step {} had a non-finite loss", in_a_row_, step);
    s.request_stop(reason_);
  } else {
    log_warn("step {} skipped: the loss is {} ({} skipped so far)", step, r.loss, total_);
  }
}

CheckpointHook::CheckpointHook(CheckpointStore store, double every_secs, int64_t every_steps,
                               Tensors tensors, TrainingState identity,
                               std::function<std::vector<double>()> schedule_state)
    : store_(std::move(store)),
      every_secs_(every_secs),
      every_steps_(every_steps),
      tensors_(std::move(tensors)),
      schedule_state_(std::move(schedule_state)),
      identity_(std::move(identity)) {}

void CheckpointHook::begin(Session& s) {
  last_time_ = s.elapsed();
  last_step_ = s.state().step;  // a resumed run starts from a checkpoint of this step
  store_.begin_timeline(s.state().step);
}

void CheckpointHook::after_step(Session& s, const StepResult&) {
  const bool by_steps = every_steps_ > 0 && s.state().step % every_steps_ == 0;
  const bool by_time = every_secs_ > 0 && s.elapsed() - last_time_ >= every_secs_;
  if (by_steps || by_time) save(s);
}

void CheckpointHook::end(Session& s) {
  if (s.state().step != last_step_ || last_path_.empty()) save(s);
}

void CheckpointHook::save(Session& s) {
  last_time_ = s.elapsed();
  if (s.comm().rank() != 0) return;
  TrainingState state = identity_;
  state.step = s.state().step;
  state.epoch = s.state().epoch;
  state.batch = s.state().batch;
  if (schedule_state_) state.lr_schedule = schedule_state_();
  try {
    const auto [model, optimizer] = tensors_();
    last_path_ = store_.save(state, model, optimizer);
    last_step_ = state.step;
    last_error_.clear();
  } catch (const Error& e) {
    const std::vector<std::string> intact = store_.list();
    last_error_ = fmt::format("{}; {}", e.what(),
                              intact.empty() ? "there is no earlier checkpoint"
                                             : "the newest intact checkpoint is " + intact[0]);
    log_warn("the checkpoint of step {} was not written: {}", state.step, last_error_);
  }
}

void StepSums::add(const StepResult& r) {
  loss += r.loss;
  steps += 1;
  correct += static_cast<double>(r.correct);
  examples += static_cast<double>(r.examples);
}

StepSums StepSums::reduce(const Communicator& comm, const std::string& what) const {
  Tensor sums = Tensor::from<double>({4}, {loss, steps, correct, examples});
  comm.allreduce(sums, ReduceOp::sum, what);
  const double* w = sums.data<double>();
  return {w[0], w[1], w[2], w[3]};
}

MetricsHook::MetricsHook(int64_t every, MetricsWriter* writer, Progress* progress,
                         std::function<double()> lr)
    : every_(every), writer_(writer), progress_(progress), lr_(std::move(lr)) {}

void MetricsHook::after_step(Session& s, const StepResult& r) {
  if (window_.steps == 0 && window_start_ == 0) window_start_ = s.elapsed();
  window_.add(r);
  const double seconds = std::max(s.elapsed() - window_start_, 1e-9);
  const int64_t step = s.state().step;
  if (progress_)
    progress_->update(step, s.state().epoch - (s.state().batch == 0 ? 1 : 0), window_.mean_loss(),
                      window_.examples * s.comm().size() / seconds);
  if (step % every_ != 0) return;
  const StepSums all = window_.reduce(s.comm(), fmt::format("the metrics of step {}", step));
  if (writer_)
    writer_->write({step, static_cast<double>(step) / static_cast<double>(s.steps_per_epoch()),
                    "train", all.mean_loss(), all.accuracy(), lr_(), all.examples / seconds,
                    s.elapsed()});
  window_ = {};
  window_start_ = s.elapsed();
}

void MetricsHook::end_epoch(Session&) {
  if (progress_) progress_->finish_line();
}

EvaluationHook::EvaluationHook(std::function<EvalResult()> evaluate, MetricsWriter* writer,
                               std::function<double()> lr, bool log,
                               std::function<EvalResult()> evaluate_train)
    : evaluate_(std::move(evaluate)),
      evaluate_train_(std::move(evaluate_train)),
      writer_(writer),
      lr_(std::move(lr)),
      log_(log) {}

void EvaluationHook::after_step(Session&, const StepResult& r) {
  epoch_.add(r);
}

void EvaluationHook::end_epoch(Session& s) {
  run(s, s.state().epoch - 1);
}

void EvaluationHook::end(Session& s) {
  if (Session::termination_signal() != 0 || s.state().step == last_step_) return;
  run(s, s.state().epoch);
}

void EvaluationHook::run(Session& s, int64_t epoch) {
  last_ = evaluate_();
  last_step_ = s.state().step;
  const StepSums all =
      epoch_.reduce(s.comm(), fmt::format("the train loss of epoch {}", epoch + 1));
  train_loss_ = all.mean_loss();
  epoch_ = {};
  const int64_t step = s.state().step;
  const double epochs = static_cast<double>(step) / static_cast<double>(s.steps_per_epoch());
  EpochRecord record{.epoch = epochs,
                     .step = step,
                     .train_loss = train_loss_,
                     .train_accuracy = all.accuracy(),
                     .test_loss = last_->loss,
                     .test_accuracy = last_->accuracy};
  if (writer_)
    writer_->write({step, epochs, "test", last_->loss, last_->accuracy, lr_(), 0.0, s.elapsed()});
  if (evaluate_train_) {
    const EvalResult fit = evaluate_train_();
    record.eval_train_loss = fit.loss;
    record.eval_train_accuracy = fit.accuracy;
    if (writer_)
      writer_->write({step, epochs, "train-eval", fit.loss, fit.accuracy, lr_(), 0.0, s.elapsed()});
  }
  history_.push_back(record);
  if (log_)
    log_info("epoch {}: train loss {:.4f}, test loss {:.4f}, test accuracy {:.4f}{}", epoch + 1,
             train_loss_, last_->loss, last_->accuracy,
             evaluate_train_ ? fmt::format(" (training examples: loss {:.4f}, accuracy {:.4f})",
                                           record.eval_train_loss, record.eval_train_accuracy)
                             : "");
}

void PlateauHook::end_epoch(Session& s) {
  if (evaluation_.last_step() != s.state().step || !evaluation_.last()) return;
  if (schedule_.observe(evaluation_.last()->loss) && log_)
    log_info("the test loss has not improved for more than the patience: learning rate now {}",
             schedule_.at(s.state().step));
}

SummaryHook::SummaryHook(int64_t every, EventWriter* writer, const EvaluationHook& evaluation,
                         std::function<double()> lr)
    : every_(every), writer_(writer), evaluation_(evaluation), lr_(std::move(lr)) {}

void SummaryHook::after_step(Session& s, const StepResult& r) {
  if (every_ <= 0) return;
  if (window_start_ < 0) window_start_ = s.elapsed();
  window_.add(r);
  const int64_t step = s.state().step;
  if (step % every_ != 0) return;
  const StepSums all = window_.reduce(s.comm(), fmt::format("the summaries of step {}", step));
  if (writer_) {
    writer_->scalar("train/loss", step, all.mean_loss());
    writer_->scalar("train/accuracy", step, all.accuracy());
    writer_->scalar("lr", step, lr_());
    writer_->scalar("samples_per_sec", step,
                    all.examples / std::max(s.elapsed() - window_start_, 1e-9));
    if (r.grad_norm >= 0) writer_->scalar("train/grad_norm", step, r.grad_norm);
  }
  window_ = {};
  window_start_ = s.elapsed();
}

void SummaryHook::write_evaluation(Session&) {
  const int64_t step = evaluation_.last_step();
  if (!writer_ || !evaluation_.last() || step == evaluation_written_) return;
  writer_->scalar("test/loss", step, evaluation_.last()->loss);
  writer_->scalar("test/accuracy", step, evaluation_.last()->accuracy);
  evaluation_written_ = step;
}

void EarlyStoppingHook::end_epoch(Session& s) {
  const auto& r = evaluation_.last();
  if (!r || patience_ <= 0) return;
  if (!any_ || r->loss < best_) {
    best_ = r->loss;
    any_ = true;
    without_improvement_ = 0;
    return;
  }
  if (++without_improvement_ >= patience_)
    s.request_stop(fmt::format("the test loss has not improved on {:.4f} for {} evaluations", best_,
                               without_improvement_));
}

}  // namespace tide
