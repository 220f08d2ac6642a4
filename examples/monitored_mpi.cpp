// The classic recipe of TensorFlow's MonitoredTrainingSession with an MPI plugin (Horovod),
// in C++ with Tide: an application supplies its data (this rank's shard), its model, one
// batch's forward pass and its evaluation (a TrainingTask); the TrainingRun does the rest:
// it broadcasts the initial variables from rank 0, averages gradients across the ranks
// before they are applied, stops at step N, writes checkpoints every N seconds and summaries
// every N steps (rank 0 only).
//
//   mpirun -np 2 build/examples/monitored_mpi [DATA_DIR] [OUT_DIR] [STEPS]
//
// Run it again with the same OUT_DIR and it resumes from the newest checkpoint.
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "tide/autograd/ops.hpp"
#include "tide/classify/evaluate.hpp"
#include "tide/data/loader.hpp"
#include "tide/data/mnist.hpp"
#include "tide/nn/layers.hpp"
#include "tide/session/training_run.hpp"

using namespace tide;

// The task: a 784-256-10 perceptron on this rank's shard of Fashion-MNIST, batches of 64.
class MlpTask : public TrainingTask {
 public:
  MlpTask(const std::string& data_dir, const Communicator& comm) : comm_(comm) {
    const int rank = comm.rank(), ranks = comm.size();
    auto train =
        std::make_shared<TensorDataset>(load_mnist("fashion-mnist", data_dir, Split::train));
    auto test = std::make_shared<TensorDataset>(load_mnist("fashion-mnist", data_dir, Split::test));
    train_.emplace(train,
                   std::make_shared<DistributedSampler>(train->size(), rank, ranks, 64, true, 1),
                   LoaderOptions{.batch_size = 64});
    test_.emplace(test,
                  std::make_shared<DistributedSampler>(test->size(), rank, ranks, 500, false, 0),
                  LoaderOptions{.batch_size = 500, .shuffle = false});
    RngStream rng(/*seed=*/1, RngPurpose::init);
    model_.add(std::make_shared<Flatten>());
    model_.add(std::make_shared<Linear>(784, 256, rng));
    model_.add(make_relu());
    model_.add(std::make_shared<Linear>(256, 10, rng));
  }

  Module& model() override { return model_; }
  int64_t batches_per_epoch() const override { return train_->batches_per_epoch(); }
  void start_epoch(int64_t epoch, int64_t first) override { train_->start_epoch(epoch, first); }
  MicroBatch forward() override {
    std::optional<Batch> b = train_->next();
    const Variable logits = model_(Variable(b->inputs));
    return MicroBatch{.loss = cross_entropy(logits, b->targets),
                      .examples = b->targets.numel(),
                      .correct = count_correct(logits.value(), b->targets)};
  }
  EvalResult evaluate() override { return tide::evaluate(model_, *test_, comm_); }
  std::string describe(int64_t steps) const override {
    return fmt::format("784-256-10 perceptron, {} parameters, {} steps", model_.num_parameters(),
                       steps);
  }
  nlohmann::ordered_json summary(const RunResult& r) const override {
    return {{"steps", r.steps}, {"test_accuracy", r.test_accuracy}};
  }

 private:
  const Communicator& comm_;
  std::optional<DataLoader> train_, test_;
  Sequential model_;
};

int main(int argc, char** argv) {
  const std::string data_dir = argc > 1 ? argv[1] : default_data_dir("fashion-mnist");
  const std::string out = argc > 2 ? argv[2] : "runs/monitored-mpi";
  const int64_t last_step = argc > 3 ? std::atoll(argv[3]) : 500;
  try {
    const Communicator& comm = Communicator::world();
    // SGD with momentum; the learning rate grows with the number of ranks, as Horovod's recipe
    // scales it. Checkpoints every 30 seconds, summaries every 50 steps; run it again with the
    // same OUT_DIR and it resumes from the newest checkpoint.
    TrainConfig config;
    config.run_dir = out;
    config.batch_size = 64;
    config.max_steps = last_step;
    config.lr = 0.02;
    config.lr_scaling = LrScaling::linear;
    config.schedule.kind = ScheduleKind::constant;
    config.momentum = 0.9;
    config.checkpoint_every_secs = 30;
    config.summary_every_steps = 50;
    config.log_every = 100;
    TrainingRun run(config, comm);
    MlpTask task(data_dir, comm);
    const RunResult r = run.train(task, RunSpec{.model_name = "mlp-256",
                                                .config_toml = to_toml(config),
                                                .agreement = "",
                                                .model_flags = "784-256-10",
                                                .log_evaluation = true});
    if (comm.rank() == 0)
      fmt::print("stopped: {}; test accuracy {:.4f}\n", r.stop_reason, r.test_accuracy);
  } catch (const Error& e) {
    fmt::print(stderr, "monitored_mpi: error: {}\n", e.what());
    Communicator::abort_job(1);
    return 1;
  }
  Communicator::finalize();
  return 0;
}
