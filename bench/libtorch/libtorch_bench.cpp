// The libtorch peer of bench/tide_bench.cpp and bench/torch_bench.py: times one training
// step (zero_grad, forward, loss, backward, SGD with momentum 0.9, lr 0.01) of a reference
// workload from ../shared/BENCH.md with the PyTorch C++ frontend and prints one JSON line:
//   {"workload": "mlp-64", "median_ms": 2.1, "steps": 30, "threads": 1, "precision": "f32"}
// It mirrors torch_bench.py model for model, so the two differ only in the Python layer.
// Built only for the benchmark (bench/run builds it on demand, see CMakeLists.txt here)
// against Debian's libtorch-dev; it is never part of Tide's build.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace {

namespace nn = torch::nn;

// 784-1024-1024-10 with ReLU; the input images are flattened first.
nn::Sequential mlp() {
  return nn::Sequential(nn::Flatten(), nn::Linear(784, 1024), nn::ReLU(), nn::Linear(1024, 1024),
                        nn::ReLU(), nn::Linear(1024, 10));
}

// Two 5x5 convolutions (padding 2), each followed by ReLU and a 2x2 max-pool, then
// 3136-1024-10 fully connected.
nn::Sequential cnn() {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 32, 5).padding(2)), nn::ReLU(),
                        nn::MaxPool2d(nn::MaxPool2dOptions(2)),
                        nn::Conv2d(nn::Conv2dOptions(32, 64, 5).padding(2)), nn::ReLU(),
                        nn::MaxPool2d(nn::MaxPool2dOptions(2)), nn::Flatten(),
                        nn::Linear(3136, 1024), nn::ReLU(), nn::Linear(1024, 10));
}

// LSTM encoder (8->64); its last hidden state, repeated over every time step, feeds an LSTM
// decoder (64->64) and a linear 64->8 that reconstructs the input.
struct LstmAutoencoderImpl : nn::Module {
  explicit LstmAutoencoderImpl(int64_t features = 8, int64_t hidden = 64)
      : encoder(register_module("encoder",
                                nn::LSTM(nn::LSTMOptions(features, hidden).batch_first(true)))),
        decoder(register_module("decoder",
                                nn::LSTM(nn::LSTMOptions(hidden, hidden).batch_first(true)))),
        out(register_module("out", nn::Linear(hidden, features))) {}

  torch::Tensor forward(const torch::Tensor& x) {  // x: [batch, time, features]
    // The encoder returns (output, (h, c)); h is [layers, batch, hidden].
    const torch::Tensor h = std::get<0>(std::get<1>(encoder->forward(x)));
    const torch::Tensor repeated = h.select(0, -1).unsqueeze(1).expand({-1, x.size(1), -1});
    return out->forward(std::get<0>(decoder->forward(repeated)));
  }

  nn::LSTM encoder;
  nn::LSTM decoder;
  nn::Linear out;
};
TORCH_MODULE(LstmAutoencoder);

// Token embedding plus learned positions, post-norm encoder layers without dropout, and a
// linear head over the vocabulary; logits are [batch * tokens, vocab].
struct TinyTransformerImpl : nn::Module {
  TinyTransformerImpl(int64_t vocab = 256, int64_t tokens = 64, int64_t d_model = 128,
                      int64_t heads = 4, int64_t ffn = 512, int64_t layers = 2)
      : embed(register_module("embed", nn::Embedding(vocab, d_model))),
        pos(register_parameter("pos", torch::randn({1, tokens, d_model}) * 0.02)),
        // The C++ layer is post-norm with ReLU, like Python's norm_first=False default.
        encoder(register_module("encoder", nn::TransformerEncoder(nn::TransformerEncoderOptions(
                                               nn::TransformerEncoderLayerOptions(d_model, heads)
                                                   .dim_feedforward(ffn)
                                                   .dropout(0.0),
                                               layers)))),
        head(register_module("head", nn::Linear(d_model, vocab))) {}

  torch::Tensor forward(const torch::Tensor& tokens) {  // tokens: [batch, tokens]
    const torch::Tensor x = embed->forward(tokens) + pos.slice(1, 0, tokens.size(1));
    // libtorch's TransformerEncoderLayer has no batch_first option: it takes
    // [tokens, batch, d_model]. Transpose in and out; Python's batch_first=True layer
    // does the same transposes inside its attention.
    const torch::Tensor y = encoder->forward(x.transpose(0, 1)).transpose(0, 1);
    return head->forward(y).flatten(0, 1);
  }

  nn::Embedding embed;
  torch::Tensor pos;
  nn::TransformerEncoder encoder;
  nn::Linear head;
};
TORCH_MODULE(TinyTransformer);

// One workload built and ready to train: its model's parameters and a function that runs
// the forward pass and the loss on the workload's fixed batch.
struct Workload {
  std::vector<torch::Tensor> parameters;
  std::function<torch::Tensor()> loss;
};

// Images [batch, 1, 28, 28] with labels 0..9, cross-entropy; the model is built first,
// then the data, as in torch_bench.py.
Workload image_workload(nn::Sequential (*make_model)(), int64_t batch) {
  nn::Sequential model = make_model();
  const torch::Tensor x = torch::randn({batch, 1, 28, 28});
  const torch::Tensor y = torch::randint(0, 10, {batch});
  return {model->parameters(),
          [=]() mutable { return torch::nn::functional::cross_entropy(model->forward(x), y); }};
}

// Sequences [32, 64, 8]; an autoencoder reconstructs its input (MSE).
Workload lstm_workload() {
  LstmAutoencoder model;
  const torch::Tensor x = torch::randn({32, 64, 8});
  return {model->parameters(),
          [=]() mutable { return torch::nn::functional::mse_loss(model->forward(x), x); }};
}

// Tokens [32, 64] in 0..255 and one target per token, [2048].
Workload transformer_workload() {
  TinyTransformer model;
  const torch::Tensor x = torch::randint(0, 256, {32, 64});
  const torch::Tensor y = torch::randint(0, 256, {32 * 64});
  return {model->parameters(),
          [=]() mutable { return torch::nn::functional::cross_entropy(model->forward(x), y); }};
}

// Workloads by name (BENCH.md), in bench/run's order of rows.
const std::vector<std::pair<std::string, std::function<Workload()>>>& workloads() {
  static const std::vector<std::pair<std::string, std::function<Workload()>>> all = {
      {"mlp-64", [] { return image_workload(mlp, 64); }},
      {"mlp-256", [] { return image_workload(mlp, 256); }},
      {"mlp-1024", [] { return image_workload(mlp, 1024); }},
      {"cnn-64", [] { return image_workload(cnn, 64); }},
      {"lstm-ae", lstm_workload},
      {"transformer", transformer_workload},
  };
  return all;
}

double median_step_ms(Workload& w, int warmup, int steps) {
  torch::optim::SGD opt(w.parameters, torch::optim::SGDOptions(0.01).momentum(0.9));
  std::vector<double> times;
  for (int i = 0; i < warmup + steps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    // Like Python's zero_grad(set_to_none=True): drop the gradients rather than zero them
    // (libtorch 1.13's Optimizer::zero_grad() only zeroes), so backward writes fresh ones.
    for (torch::Tensor& p : w.parameters) p.mutable_grad() = torch::Tensor();
    w.loss().backward();
    opt.step();
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (i >= warmup) times.push_back(ms);
  }
  // The median as torch_bench.py's statistics.median takes it: the mean of the two middle
  // steps for an even count.
  std::sort(times.begin(), times.end());
  const size_t n = times.size();
  return n % 2 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
}

[[noreturn]] void usage_error(const std::string& why) {
  std::fprintf(stderr,
               "libtorch_bench: %s\n"
               "usage: libtorch_bench --workload NAME [--warmup N] [--steps N] [--threads N]\n"
               "                      [--precision f32]\n"
               "       libtorch_bench --list\n",
               why.c_str());
  std::exit(2);
}

// The integer value of flag `name`, at least `min`; anything else is a usage error.
int parse_int(const std::string& name, const std::string& text, int min) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || v < min || v > 1'000'000'000)
    usage_error(name + " needs an integer >= " + std::to_string(min) + ", got '" + text + "'");
  return static_cast<int>(v);
}

}  // namespace

int main(int argc, char** argv) {
  std::string name;
  std::string precision = "f32";
  int warmup = 5, steps = 30, threads = 1;
  bool list = false;
  // Plain argv parsing: "--flag value" or "--flag=value".
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i], value;
    bool has_value = false;
    if (const auto eq = flag.find('='); eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
      has_value = true;
    }
    if (flag == "--list" && !has_value) {
      list = true;
      continue;
    }
    if (flag != "--workload" && flag != "--warmup" && flag != "--steps" && flag != "--threads" &&
        flag != "--precision")
      usage_error("unknown argument '" + std::string(argv[i]) + "'");
    if (!has_value) {
      if (i + 1 >= argc) usage_error(flag + " needs a value");
      value = argv[++i];
    }
    if (flag == "--workload")
      name = value;
    else if (flag == "--warmup")
      warmup = parse_int(flag, value, 0);
    else if (flag == "--steps")
      steps = parse_int(flag, value, 1);
    else if (flag == "--threads")
      threads = parse_int(flag, value, 1);
    else
      precision = value;
  }
  if (list) {
    for (const auto& [n, make] : workloads()) std::printf("%s\n", n.c_str());
    return 0;
  }
  // Only f32 is measured here; the flag exists so the CLI matches tide_bench.
  if (precision != "f32") usage_error("only --precision f32 is supported, got '" + precision + "'");
  if (name.empty()) usage_error("--workload is required (see --list)");
  const auto it = std::find_if(workloads().begin(), workloads().end(),
                               [&](const auto& entry) { return entry.first == name; });
  if (it == workloads().end()) usage_error("unknown workload '" + name + "' (see --list)");

  try {
    torch::set_num_threads(threads);
    torch::manual_seed(0);
    Workload w = it->second();
    const double ms = median_step_ms(w, warmup, steps);
    std::printf(
        "{\"workload\": \"%s\", \"median_ms\": %.4f, \"steps\": %d, \"threads\": %d, "
        "\"precision\": \"%s\"}\n",
        name.c_str(), ms, steps, torch::get_num_threads(), precision.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "libtorch_bench: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
