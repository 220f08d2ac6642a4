// The classic recipe of TensorFlow's MonitoredTrainingSession with an MPI plugin (Horovod),
// in C++ with Tide: build the data (this rank's shard), the model and the optimizer; a hook
// broadcasts the initial variables from rank 0; gradients are averaged across the ranks
// before they are applied; the session stops at step N, writes checkpoints every N seconds
// and summaries every N steps (rank 0 only).
//
//   mpirun -np 2 build/examples/monitored_mpi [DATA_DIR] [OUT_DIR] [STEPS]
//
// Run it again with the same OUT_DIR and it resumes from the newest checkpoint.
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "tide/autograd/ops.hpp"
#include "tide/classify/evaluate.hpp"
#include "tide/core/log.hpp"
#include "tide/data/loader.hpp"
#include "tide/data/mnist.hpp"
#include "tide/distributed/reducer.hpp"
#include "tide/distributed/replicate.hpp"
#include "tide/nn/layers.hpp"
#include "tide/optim/sgd.hpp"
#include "tide/session/hooks.hpp"

using namespace tide;

// The MPI plugin's first hook: at the start, every rank takes rank 0's variables (and
// checks that every rank built the same model).
class BroadcastVariablesHook : public Hook {
 public:
  explicit BroadcastVariablesHook(const Module& model) : model_(model) {}
  void begin(Session& s) override {
    const auto params = model_.named_parameters();
    replicate_parameters(params, describe_parameters(params), s.comm());
  }

 private:
  const Module& model_;
};

int main(int argc, char** argv) {
  const std::string data_dir = argc > 1 ? argv[1] : default_data_dir("fashion-mnist");
  const std::string out = argc > 2 ? argv[2] : "runs/monitored-mpi";
  const int64_t last_step = argc > 3 ? std::atoll(argv[3]) : 500;
  try {
    const Communicator& comm = Communicator::world();
    const int rank = comm.rank(), ranks = comm.size();

    // Data: each rank reads its own shard of every epoch, batches of 64.
    auto train =
        std::make_shared<TensorDataset>(load_mnist("fashion-mnist", data_dir, Split::train));
    auto test = std::make_shared<TensorDataset>(load_mnist("fashion-mnist", data_dir, Split::test));
    const int64_t batch = 64;
    DataLoader loader(
        train, std::make_shared<DistributedSampler>(train->size(), rank, ranks, batch, true, 1),
        LoaderOptions{.batch_size = batch});
    DataLoader test_loader(
        test, std::make_shared<DistributedSampler>(test->size(), rank, ranks, 500, false, 0),
        LoaderOptions{.batch_size = 500, .shuffle = false});

    // Model and optimizer; the learning rate grows with the number of ranks, as Horovod's
    // recipe scales it.
    RngStream rng(/*seed=*/1, RngPurpose::init);
    Sequential model;
    model.add(std::make_shared<Flatten>());
    model.add(std::make_shared<Linear>(784, 256, rng));
    model.add(make_relu());
    model.add(std::make_shared<Linear>(256, 10, rng));
    Sgd optimizer(model.parameters(), SgdOptions{.lr = 0.02 * ranks, .momentum = 0.9});
    Reducer reducer(model.parameters(), comm);  // gradients summed across the ranks

    // Where a run left off, if it did.
    CheckpointStore store(out + "/checkpoints", 3);
    TrainingState start{.seed = 1, .world_size = ranks, .config_hash = "monitored_mpi"};
    if (std::optional<Checkpoint> c = store.load_newest()) {
      model.load_state_dict(c->model);
      optimizer.load_state_dict(c->optimizer);
      start = c->state;
      if (rank == 0) log_info("resuming from {} at step {}", c->path, start.step);
    }
    if (rank == 0) std::filesystem::create_directories(out);

    Session session(comm, start, loader.batches_per_epoch(), 1,
                    [&](int64_t epoch, int64_t first) { loader.start_epoch(epoch, first); });
    session.add_hook(std::make_shared<BroadcastVariablesHook>(model));
    session.add_hook(std::make_shared<StopAtStepHook>(last_step));
    auto evaluation =
        std::make_shared<EvaluationHook>([&] { return evaluate(model, test_loader, comm); },
                                         nullptr, [&] { return optimizer.lr(); }, rank == 0);
    session.add_hook(evaluation);
    std::optional<EventWriter> events;
    if (rank == 0) events.emplace(out);
    session.add_hook(std::make_shared<SummaryHook>(50, events ? &*events : nullptr, *evaluation,
                                                   [&] { return optimizer.lr(); }));
    session.add_hook(std::make_shared<CheckpointHook>(
        store, /*every_secs=*/30.0, /*every_steps=*/0,
        [&] {
          return std::pair{model.state_dict(), optimizer.state_dict()};
        },
        start));

    Session::catch_termination_signals();
    session.run([&](Session& s) {
      std::optional<Batch> b = loader.next();
      optimizer.zero_grad();
      reducer.prepare(s.state().step);
      const Variable logits = model(Variable(b->inputs));
      const Variable loss = cross_entropy(logits, b->targets);
      // Seeded with 1 / ranks, so the sum across the ranks is the average.
      loss.backward(Tensor::full({}, 1.0 / ranks));
      reducer.finish();
      optimizer.step();
      if (rank == 0 && (s.state().step + 1) % 100 == 0)
        fmt::print("step {:4}  loss {:.4f}\n", s.state().step + 1, loss.value().item());
      return StepResult{.loss = loss.value().item(),
                        .examples = b->targets.numel(),
                        .correct = count_correct(logits.value(), b->targets)};
    });
    if (rank == 0 && evaluation->last())
      fmt::print("stopped: {}; test accuracy {:.4f}\n", session.stop_reason(),
                 evaluation->last()->accuracy);
  } catch (const Error& e) {
    fmt::print(stderr, "monitored_mpi: error: {}\n", e.what());
    Communicator::abort_job(1);
    return 1;
  }
  Communicator::finalize();
  return 0;
}
