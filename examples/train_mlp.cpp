// Tide as a library: build an MLP, loop over Fashion-MNIST batches, step the optimizer,
// evaluate. Usage: train_mlp [DATA_DIR] [STEPS]
#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "tide/autograd/ops.hpp"
#include "tide/data/loader.hpp"
#include "tide/data/mnist.hpp"
#include "tide/nn/layers.hpp"
#include "tide/optim/sgd.hpp"

int main(int argc, char** argv) {
  using namespace tide;
  const std::string dir = argc > 1 ? argv[1] : default_data_dir("fashion-mnist");
  const int64_t steps = argc > 2 ? std::atoll(argv[2]) : 500;
  try {
    auto train = std::make_shared<TensorDataset>(load_mnist("fashion-mnist", dir, Split::train));
    auto test = std::make_shared<TensorDataset>(load_mnist("fashion-mnist", dir, Split::test));

    // 784-256-10 with ReLU, weights from a seeded counter-based stream.
    RngStream rng(/*seed=*/1, RngPurpose::init);
    Sequential model;
    model.add(std::make_shared<Flatten>());
    model.add(std::make_shared<Linear>(784, 256, rng));
    model.add(make_relu());
    model.add(std::make_shared<Linear>(256, 10, rng));
    Sgd optimizer(model.parameters(), SgdOptions{.lr = 0.05, .momentum = 0.9});

    DataLoader loader(train, LoaderOptions{.batch_size = 64, .shuffle = true, .seed = 1});
    int64_t step = 0;
    for (int64_t epoch = 0; step < steps; ++epoch) {
      loader.start_epoch(epoch);
      while (step < steps) {
        std::optional<Batch> batch = loader.next();
        if (!batch) break;
        optimizer.zero_grad();
        Variable loss = cross_entropy(model(Variable(batch->inputs)), batch->targets);
        loss.backward();
        optimizer.step();
        if (++step % 100 == 0) fmt::print("step {:4}  loss {:.4f}\n", step, loss.value().item());
      }
    }

    // Evaluate: no graph, eval mode, count arg-max hits.
    model.eval();
    NoGradGuard no_grad;
    DataLoader test_loader(test, LoaderOptions{.batch_size = 500, .shuffle = false});
    test_loader.start_epoch(0);
    int64_t correct = 0, total = 0;
    while (std::optional<Batch> batch = test_loader.next()) {
      const Tensor logits = model(Variable(batch->inputs)).value();
      for (int64_t r = 0; r < logits.dim(0); ++r) {
        const float* row = logits.data<float>() + r * logits.dim(1);
        const int64_t guess = std::max_element(row, row + logits.dim(1)) - row;
        correct += guess == batch->targets.data<int64_t>()[r];
      }
      total += logits.dim(0);
    }
    fmt::print("test accuracy {:.4f}\n", static_cast<double>(correct) / static_cast<double>(total));
  } catch (const Error& e) {
    fmt::print(stderr, "train_mlp: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
