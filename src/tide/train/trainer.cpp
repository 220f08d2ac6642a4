#include "tide/train/trainer.hpp"

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tide/autograd/ops.hpp"
#include "tide/core/log.hpp"
#include "tide/data/mnist.hpp"
#include "tide/kernels/parallel.hpp"
#include "tide/optim/schedule.hpp"
#include "tide/optim/sgd.hpp"
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

std::string default_run_dir(const TrainConfig& c) {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  return fmt::format("runs/{}-{}-{}", c.model, c.dataset, stamp);
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.flush();
  TIDE_CHECK(out.good(), "{}: write failed", path.string());
}

void write_summary(const fs::path& path, const TrainConfig& c, const TrainSummary& s) {
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
      {"threads", num_threads()},
  };
  write_text(path, j.dump(2) + "\n");
}

}  // namespace

TrainSummary train_classifier(TrainConfig c) {
  validate(c);
  set_num_threads(c.threads);
  if (c.data_dir.empty() && c.dataset != "folder") c.data_dir = default_data_dir(c.dataset);
  if (c.run_dir.empty()) c.run_dir = default_run_dir(c);

  const DataSplits data = load_datasets(c);
  const std::shared_ptr<Dataset>& train_set = data.train;
  const std::shared_ptr<Dataset>& test_set = data.test;
  std::error_code ec;
  fs::create_directories(c.run_dir, ec);
  TIDE_CHECK(!ec, "{}: cannot create the run directory: {}", c.run_dir, ec.message());
  write_text(fs::path(c.run_dir) / "config.toml", to_toml(c));
  MetricsWriter metrics((fs::path(c.run_dir) / "metrics.csv").string());

  RngStream init_rng(c.seed, RngPurpose::init);
  std::shared_ptr<Module> model =
      make_model(c.model, train_set->sample_shape(), data.classes, init_rng);
  Sgd optimizer(model->parameters(), SgdOptions{.lr = c.lr,
                                                .momentum = c.momentum,
                                                .weight_decay = c.weight_decay,
                                                .nesterov = c.nesterov});
  DataLoader train_loader(
      train_set,
      LoaderOptions{
          .batch_size = c.batch_size, .shuffle = true, .seed = c.seed, .prefetch = c.prefetch});
  DataLoader test_loader(test_set, LoaderOptions{.batch_size = std::max<int64_t>(c.batch_size, 256),
                                                 .shuffle = false,
                                                 .prefetch = c.prefetch});
  const int64_t per_epoch = train_loader.batches_per_epoch();
  int64_t total = c.epochs * per_epoch;
  if (c.max_steps > 0 && (total == 0 || c.max_steps < total)) total = c.max_steps;
  const LrSchedule schedule(c.lr, total, c.schedule);
  const int64_t epochs_to_run = (total + per_epoch - 1) / per_epoch;
  log_info("{}: {} parameters; {} training and {} test examples; {} steps of batch {}", c.model,
           model->num_parameters(), train_set->size(), test_set->size(), total, c.batch_size);

  TrainSummary s;
  s.run_dir = c.run_dir;
  s.parameters = model->num_parameters();
  Progress progress(stderr, total, c.log_every);
  const auto start = Clock::now();
  auto window_start = start;
  double window_loss = 0, epoch_loss = 0;
  int64_t window_steps = 0, window_correct = 0, window_examples = 0, trained_examples = 0;
  EvalResult eval;
  for (int64_t epoch = 0; epoch < epochs_to_run; ++epoch) {
    train_set->set_epoch(epoch);
    train_loader.start_epoch(epoch);
    int64_t epoch_steps = 0;
    epoch_loss = 0;
    while (s.steps < total) {
      std::optional<Batch> batch = train_loader.next();
      if (!batch) break;
      optimizer.zero_grad();
      optimizer.set_lr(schedule.at(s.steps));
      model->begin_step(s.steps);
      const Variable logits = (*model)(Variable(batch->inputs));
      const Variable loss = cross_entropy(logits, batch->targets);
      const double loss_value = loss.value().item();
      TIDE_CHECK(std::isfinite(loss_value),
                 "training diverged: the loss is {} at step {} (epoch {}); try a smaller --lr "
                 "(now {})",
                 loss_value, s.steps + 1, epoch + 1, c.lr);
      loss.backward();
      optimizer.step();

      const int64_t n = batch->targets.numel();
      ++s.steps;
      ++epoch_steps;
      ++window_steps;
      trained_examples += n;
      window_examples += n;
      window_loss += loss_value;
      epoch_loss += loss_value;
      window_correct += count_correct(logits.value(), batch->targets);
      const double rate =
          static_cast<double>(window_examples) / std::max(seconds_since(window_start), 1e-9);
      progress.update(s.steps, epoch, window_loss / static_cast<double>(window_steps), rate);
      if (s.steps % c.log_every == 0) {
        metrics.write({s.steps, static_cast<double>(s.steps) / static_cast<double>(per_epoch),
                       "train", window_loss / static_cast<double>(window_steps),
                       static_cast<double>(window_correct) / static_cast<double>(window_examples),
                       optimizer.lr(), rate, seconds_since(start)});
        window_loss = 0;
        window_steps = window_correct = window_examples = 0;
        window_start = Clock::now();
      }
    }
    eval = evaluate(*model, test_loader);
    progress.finish_line();
    s.train_loss = epoch_steps > 0 ? epoch_loss / static_cast<double>(epoch_steps) : 0.0;
    metrics.write({s.steps, static_cast<double>(s.steps) / static_cast<double>(per_epoch), "test",
                   eval.loss, eval.accuracy, optimizer.lr(), 0.0, seconds_since(start)});
    log_info("epoch {}: train loss {:.4f}, test loss {:.4f}, test accuracy {:.4f}", epoch + 1,
             s.train_loss, eval.loss, eval.accuracy);
  }
  s.wall_s = seconds_since(start);
  s.test_accuracy = eval.accuracy;
  s.test_loss = eval.loss;
  s.epochs = static_cast<double>(s.steps) / static_cast<double>(per_epoch);
  s.samples_per_sec = static_cast<double>(trained_examples) / std::max(s.wall_s, 1e-9);
  write_summary(fs::path(c.run_dir) / "summary.json", c, s);
  return s;
}

}  // namespace tide
