#include "tide/classify/trainer.hpp"

#include <filesystem>
#include <optional>
#include <sstream>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "tide/autograd/ops.hpp"
#include "tide/classify/datasets.hpp"
#include "tide/classify/evaluate.hpp"
#include "tide/classify/trained.hpp"
#include "tide/core/log.hpp"
#include "tide/data/loader.hpp"
#include "tide/data/mnist.hpp"
#include "tide/kernels/parallel.hpp"
#include "tide/models/zoo.hpp"
#include "tide/report/files.hpp"

namespace tide {
namespace {

// A classifier of config.model on config.dataset, trained with cross-entropy; evaluated on
// the test split (and with --eval-train on the first training examples, unperturbed).
class ClassifierTask : public TrainingTask {
 public:
  ClassifierTask(const TrainConfig& c, const Communicator& comm)
      : c_(c), comm_(comm), data_(load_datasets(c)) {
    RngStream init_rng(c.seed, RngPurpose::init);
    const NetworkFile file = network_file_of(c);
    const ModelOptions options{
        .hidden = c.hidden, .dropout = c.dropout, .batch_norm = c.batch_norm, .seed = c.seed};
    arguments_ = model_arguments(options);
    for (const auto& [name, value] : arguments_) {
      std::vector<std::string> declared;
      for (const auto& [n, v] : file.arguments()) declared.push_back(n);
      if (file.is_onnx())
        fail_option({name}, "{0} sets an argument of a model file; an ONNX graph ({}) has none",
                    file.source());
      if (!file.arguments().contains(name))
        fail_option(
            {name}, "{0} sets the argument {} of a model file; {} declares {}", name, file.source(),
            declared.empty() ? std::string("none") : fmt::format("{}", fmt::join(declared, ", ")));
    }
    inputs_ = input_spec(c, data_);
    network_ = file.build(NetworkInputs{.sample = data_.train->sample_shape(),
                                        .classes = data_.classes,
                                        .arguments = arguments_,
                                        .seed = c.seed},
                          init_rng);
    model_ = network_.module;
    file_name_ = file.run_file_name();
    file_content_ = file.content();
    TIDE_CHECK(
        network_.output_shape == Shape({data_.classes}),
        "{}: the network gives {} per sample; {} needs [{}]{}", file.source(),
        network_.output_shape.str(),
        c.task == Task::classification ? fmt::format("a classifier of {} classes", data_.classes)
                                       : fmt::format("a regression of {} target{}", data_.classes,
                                                     data_.classes == 1 ? "" : "s"),
        data_.classes, file.is_onnx() ? "" : " (end with a linear layer of units = \"$classes\")");
    TIDE_CHECK(model_->num_parameters() > 0, "{}: the network has no parameters to train",
               file.source());
    if (comm.rank() == 0) {
      std::istringstream summary(network_.summary);
      for (std::string line; std::getline(summary, line);) log_info("{}", line);
    }
    const int rank = comm.rank(), ranks = comm.size();
    train_.emplace(data_.train,
                   std::make_shared<DistributedSampler>(data_.train->size(), rank, ranks,
                                                        c.batch_size, true, c.seed),
                   LoaderOptions{.batch_size = c.batch_size, .prefetch = c.prefetch});
    const int64_t eval_batch = std::max<int64_t>(c.batch_size, 256);
    open_split(test_, data_.test, data_.test->size(), eval_batch);
    if (c.eval_train != 0) {
      const int64_t n = c.eval_train < 0 ? data_.train_plain->size()
                                         : std::min(c.eval_train, data_.train_plain->size());
      open_split(fit_, std::make_shared<PrefixDataset>(data_.train_plain, n), n, eval_batch);
    }
  }

  Module& model() override { return *model_; }
  int64_t batches_per_epoch() const override { return train_->batches_per_epoch(); }
  void start_epoch(int64_t epoch, int64_t first) override {
    data_.train->set_epoch(epoch);
    train_->start_epoch(epoch, first);
  }
  MicroBatch forward() override {
    std::optional<Batch> batch = train_->next();
    TIDE_CHECK(batch.has_value(), "the data loader ended an epoch early");
    const Variable out = (*model_)(Variable(batch->inputs));
    const int64_t examples = batch->targets.dim(0);
    switch (loss_of(c_)) {
      case LossKind::mse:
        return {
            .loss = mse_loss(out, Variable(batch->targets)), .examples = examples, .correct = 0};
      case LossKind::huber:
        return {.loss = huber_loss(out, batch->targets, c_.huber_delta),
                .examples = examples,
                .correct = 0};
      default:
        return {.loss = cross_entropy(out, batch->targets, c_.label_smoothing),
                .examples = examples,
                .correct = count_correct(out.value(), batch->targets)};
    }
  }
  // The model file and its summary beside the weights: what `tide predict` rebuilds from.
  void write_files(const std::string& run_dir) const override {
    write_text_file(run_dir + "/" + file_name_, file_content_);
    write_text_file(run_dir + "/model_summary.txt", network_.summary);
    write_text_file(run_dir + "/model.json", model_json(inputs_, arguments_).dump(2) + "\n");
  }
  EvalResult evaluate() override {
    broadcast_buffers();
    return evaluate_split(*test_);
  }
  std::function<EvalResult()> evaluate_train() override {
    if (!fit_) return nullptr;
    return [this] { return evaluate_split(*fit_); };
  }
  std::string describe(int64_t steps) const override {
    return fmt::format("{}: {} parameters; {} training and {} test examples; {} steps",
                       model_name(c_), model_->num_parameters(), data_.train->size(),
                       data_.test->size(), steps);
  }
  nlohmann::ordered_json summary(const RunResult& r) const override {
    nlohmann::ordered_json out = {{"model", model_name(c_)},
                                  {"dataset", c_.dataset},
                                  {"test_accuracy", r.test_accuracy},
                                  {"test_loss", r.test_loss},
                                  {"train_loss", r.train_loss},
                                  {"epochs", r.epochs},
                                  {"steps", r.steps},
                                  {"samples_per_sec", r.samples_per_sec},
                                  {"wall_s", r.wall_s},
                                  {"parameters", r.parameters},
                                  {"batch_size", c_.batch_size},
                                  {"ranks", r.ranks},
                                  {"accumulate", c_.accumulate},
                                  {"global_batch", r.global_batch},
                                  {"lr", r.lr},
                                  {"warmup_steps", r.warmup_steps},
                                  {"threads", num_threads()}};
    if (c_.task == Task::regression) {
      out["task"] = "regression";
      out["test_rmse"] = r.test_rmse;
      out["test_r2"] = r.test_r2;
    }
    return out;
  }

 private:
  // This rank's share of `n` examples of `set`, in order, for evaluation.
  void open_split(std::optional<DataLoader>& loader, std::shared_ptr<Dataset> set, int64_t n,
                  int64_t batch) const {
    loader.emplace(
        std::move(set),
        std::make_shared<DistributedSampler>(n, comm_.rank(), comm_.size(), batch, false, 0),
        LoaderOptions{.batch_size = batch, .shuffle = false, .prefetch = c_.prefetch});
  }
  EvalResult evaluate_split(DataLoader& loader) const {
    if (c_.task == Task::regression)
      return evaluate_regression(*model_, loader, comm_, data_.classes, loss_of(c_),
                                 c_.huber_delta);
    return tide::evaluate(*model_, loader, comm_);
  }
  // Rank 0's buffers (batch norm's running statistics) on every rank before evaluating: each
  // rank's own track only its share of the data.
  void broadcast_buffers() {
    if (comm_.size() == 1) return;
    TensorMap state = model_->state_dict();
    for (const auto& [name, p] : model_->named_parameters()) state.erase(name);
    for (auto& [name, t] : state) comm_.broadcast(t, 0, "the broadcast of buffer " + name);
  }

  const TrainConfig& c_;
  const Communicator& comm_;
  DataSplits data_;
  Network network_;
  ModelArguments arguments_;
  InputSpec inputs_;
  std::shared_ptr<Module> model_;
  std::string file_name_, file_content_;
  std::optional<DataLoader> train_, test_, fit_;
};

}  // namespace

NetworkFile network_file_of(const TrainConfig& c) {
  return c.model_file.empty() ? NetworkFile::shipped(c.model) : NetworkFile::read(c.model_file);
}

std::string model_name(const TrainConfig& c) {
  return c.model_file.empty() ? c.model : std::filesystem::path(c.model_file).stem().string();
}

std::string default_run_dir(const TrainConfig& c) {
  return fmt::format("runs/{}-{}-{}", model_name(c), c.dataset, local_time_stamp());
}

TrainSummary train_classifier(TrainConfig c) {
  return train_classifier(std::move(c), Communicator::solo());
}

TrainSummary train_classifier(TrainConfig c, const Communicator& comm) {
  validate(c);
  c.data_dir = data_dir_or_default(c.dataset, c.data_dir);
  if (c.run_dir.empty()) c.run_dir = default_run_dir(c);
  TrainingRun run(c, comm);
  ClassifierTask task(run.config(), comm);
  return run.train(
      task, RunSpec{.model_name = model_name(c),
                    .config_toml = to_toml(c),
                    .agreement = "",
                    .model_flags =
                        c.model_file.empty()
                            ? fmt::format("--model {} --hidden {}", c.model, c.hidden)
                            : fmt::format("--model-file {} --hidden {}", c.model_file, c.hidden),
                    .log_evaluation = true,
                    .counts_correct = c.task == Task::classification});
}

}  // namespace tide
