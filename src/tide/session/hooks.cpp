#include "tide/session/hooks.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tide/core/log.hpp"
#include "tide/core/trace.hpp"

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
  const TraceSpan span("checkpoint", "io");
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

MetricsHook::MetricsHook(int64_t every, MetricsWriter* writer, Progress* progress,
                         std::function<double()> lr, bool accuracy)
    : every_(every),
      writer_(writer),
      progress_(progress),
      lr_(std::move(lr)),
      accuracy_(accuracy) {}

void MetricsHook::after_step(Session& s, const StepResult&) {
  if (window_.steps() == 0 && window_start_ == 0) window_start_ = s.elapsed();
  window_.add(s.step_results());
  const double seconds = std::max(s.elapsed() - window_start_, 1e-9);
  const int64_t step = s.state().step;
  const int rank = s.comm().rank();
  if (progress_)
    progress_->update(step, s.state().epoch - (s.state().batch == 0 ? 1 : 0),
                      window_.mean_loss_of(rank),
                      window_.examples_of(rank) * s.comm().size() / seconds);
  if (step % every_ != 0) return;
  if (writer_)
    writer_->write({step, static_cast<double>(step) / static_cast<double>(s.steps_per_epoch()),
                    "train", window_.mean_loss(),
                    accuracy_ ? window_.accuracy() : std::numeric_limits<double>::quiet_NaN(),
                    lr_(), window_.examples() / seconds, s.elapsed()});
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

void EvaluationHook::end_epoch(Session& s) {
  run(s, s.state().epoch - 1, true);
}

void EvaluationHook::end(Session& s) {
  if (Session::termination_signal() != 0 || s.state().step == last_step_) return;
  run(s, s.state().epoch, false);
}

void EvaluationHook::run(Session& s, int64_t epoch, bool end_of_epoch) {
  const TraceSpan span("evaluation", "eval");
  const EvalResult test = evaluate_();
  last_step_ = s.state().step;
  const int64_t step = s.state().step;
  const double epochs = static_cast<double>(step) / static_cast<double>(s.steps_per_epoch());
  EpochRecord record{.epoch = epochs,
                     .step = step,
                     .train_loss = epoch_.mean_loss(),
                     .train_accuracy = epoch_.accuracy(),
                     .test_loss = test.loss,
                     .test_accuracy = test.accuracy,
                     .test_rmse = test.rmse,
                     .test_r2 = test.r2,
                     .regression = test.regression,
                     .end_of_epoch = end_of_epoch};
  epoch_ = {};
  if (writer_)
    writer_->write({step, epochs, "test", test.loss, test.accuracy, lr_(), 0.0, s.elapsed(),
                    test.rmse, test.r2});
  if (evaluate_train_) {
    const EvalResult fit = evaluate_train_();
    record.eval_train_loss = fit.loss;
    record.eval_train_accuracy = fit.accuracy;
    if (writer_)
      writer_->write({step, epochs, "train-eval", fit.loss, fit.accuracy, lr_(), 0.0, s.elapsed(),
                      fit.rmse, fit.r2});
  }
  const std::string figures = !test.regression
                                  ? fmt::format("test accuracy {:.4f}", test.accuracy)
                                  : fmt::format("test rmse {:.4g}, r2 {:.4f}", test.rmse, test.r2);
  if (log_)
    log_info("epoch {}: train loss {:.4f}, test loss {:.4f}, {}{}", epoch + 1, record.train_loss,
             test.loss, figures,
             evaluate_train_ ? fmt::format(" (training examples: loss {:.4f}, accuracy {:.4f})",
                                           record.eval_train_loss, record.eval_train_accuracy)
                             : "");
  s.report_evaluation(record);
}

void PlateauHook::after_evaluation(Session& s, const EpochRecord& r) {
  if (!r.end_of_epoch) return;
  if (schedule_.observe(r.test_loss) && log_)
    log_info("the test loss has not improved for more than the patience: learning rate now {}",
             schedule_.at(s.state().step));
}

SummaryHook::SummaryHook(int64_t every, EventWriter* writer, std::function<double()> lr,
                         bool accuracy)
    : every_(every), writer_(writer), lr_(std::move(lr)), accuracy_(accuracy) {}

void SummaryHook::after_step(Session& s, const StepResult& r) {
  if (every_ <= 0) return;
  if (window_start_ < 0) window_start_ = s.elapsed();
  window_.add(s.step_results());
  const int64_t step = s.state().step;
  if (step % every_ != 0) return;
  if (writer_) {
    writer_->scalar("train/loss", step, window_.mean_loss());
    if (accuracy_) writer_->scalar("train/accuracy", step, window_.accuracy());
    writer_->scalar("lr", step, lr_());
    writer_->scalar("samples_per_sec", step,
                    window_.examples() / std::max(s.elapsed() - window_start_, 1e-9));
    if (r.grad_norm >= 0) writer_->scalar("train/grad_norm", step, r.grad_norm);
  }
  window_ = {};
  window_start_ = s.elapsed();
}

void SummaryHook::after_evaluation(Session&, const EpochRecord& r) {
  if (!writer_) return;
  writer_->scalar("test/loss", r.step, r.test_loss);
  if (!r.regression) {
    writer_->scalar("test/accuracy", r.step, r.test_accuracy);
  } else {
    writer_->scalar("test/rmse", r.step, r.test_rmse);
    writer_->scalar("test/r2", r.step, r.test_r2);
  }
}

HistogramHook::HistogramHook(int64_t every, EventWriter* writer, Parameters parameters)
    : every_(every), writer_(writer), parameters_(std::move(parameters)) {}

void HistogramHook::after_step(Session& s, const StepResult&) {
  const int64_t step = s.state().step;
  if (every_ <= 0 || !writer_ || step % every_ != 0) return;
  auto write = [&](const std::string& tag, const Tensor& t) {
    if (!t.defined()) return;  // no gradient yet (a parameter backward did not reach)
    if (t.dtype() == DType::f32)
      writer_->histogram(tag, step, t.data<float>(), t.numel());
    else if (t.dtype() == DType::f64)
      writer_->histogram(tag, step, t.data<double>(), t.numel());
  };
  for (const auto& [name, v] : parameters_()) {
    write("weights/" + name, v.value());
    write("gradients/" + name, v.grad());
  }
}

void EarlyStoppingHook::after_evaluation(Session& s, const EpochRecord& r) {
  if (!r.end_of_epoch || patience_ <= 0) return;
  if (!any_ || r.test_loss < best_) {
    best_ = r.test_loss;
    any_ = true;
    without_improvement_ = 0;
    return;
  }
  if (++without_improvement_ >= patience_)
    s.request_stop(fmt::format("the test loss has not improved on {:.4f} for {} evaluations", best_,
                               without_improvement_));
}

}  // namespace tide
