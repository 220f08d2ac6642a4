#include <filesystem>
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tide/classify/predict.hpp"
#include "tide/cli/commands.hpp"
#include "tide/kernels/parallel.hpp"
#include "tide/onnx/onnx.hpp"

namespace tide::cli {
namespace {

struct UseOptions {
  std::string model;
  int threads = 0;
  int64_t batch_size = 256;
};

void add_use_options(CLI::App* cmd, UseOptions& o) {
  cmd->add_option("--model", o.model,
                  "Run directory of tide train, or a .safetensors file (model.safetensors, a "
                  "checkpoint) in one")
      ->required();
  cmd->add_option("--threads", o.threads, "Threads (0: one per core)")->capture_default_str();
  cmd->add_option("--batch-size", o.batch_size, "Inputs per forward pass")->capture_default_str();
}

void start(const UseOptions& o) {
  TIDE_CHECK(o.threads >= 0, "--threads must not be negative, got {}", o.threads);
  TIDE_CHECK(o.batch_size > 0, "--batch-size must be positive, got {}", o.batch_size);
  if (o.threads > 0) set_num_threads(o.threads);
}

}  // namespace

void add_predict_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "predict",
      "Apply a trained model to inputs (PNG, JPEG, IDX image files; CSV tables; .npy arrays): "
      "a CSV");
  auto o = std::make_shared<UseOptions>();
  auto inputs = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  add_use_options(cmd, *o);
  cmd->add_option("--out", *out, "The CSV of predictions (default: standard output)");
  cmd->add_option(
         "inputs", *inputs,
         "Images, IDX files, CSV tables (for a model of a table), or .npy files (for a model of "
         "arrays or a table)")
      ->required();
  cmd->callback([o, inputs, out] {
    start(*o);
    const TrainedModel model = load_trained_model(o->model);
    const PredictOptions options{.batch_size = o->batch_size, .progress = !out->empty()};
    if (out->empty()) {
      predict(model, *inputs, std::cout, options);
      return;
    }
    const std::string partial = *out + ".partial";
    int64_t rows = 0;
    try {
      std::ofstream csv(partial);
      TIDE_CHECK(csv.good(), "{}: cannot write the predictions", partial);
      rows = predict(model, *inputs, csv, options);
    } catch (...) {
      std::error_code ignored;
      std::filesystem::remove(partial, ignored);  // no half-written file is left behind
      throw;
    }
    std::filesystem::rename(partial, *out);
    fmt::print(stderr, "wrote {} predictions to {}\n", rows, *out);
  });
}

void add_evaluate_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "evaluate",
      "Evaluate a trained model on a test split: loss, accuracy and the confusion matrix");
  auto o = std::make_shared<UseOptions>();
  auto dataset = std::make_shared<std::string>(), data_dir = std::make_shared<std::string>(),
       out = std::make_shared<std::string>();
  add_use_options(cmd, *o);
  cmd->add_option("--dataset", *dataset,
                  "fashion-mnist, mnist, folder, csv or arrays (default: the run's)");
  cmd->add_option("--data-dir", *data_dir, "Its data (default: the run's)");
  cmd->add_option("--out", *out, "Directory of the results (default: RUN_DIR/evaluation)");
  cmd->callback([o, dataset, data_dir, out] {
    start(*o);
    const TrainedModel model = load_trained_model(o->model);
    const Evaluation e = evaluate_trained(model, *dataset, *data_dir, o->batch_size);
    const std::string dir = out->empty() ? model.run_dir + "/evaluation" : *out;
    write_evaluation(e, dir);
    if (e.confusion.empty()) {
      fmt::print("test rmse {:.4g}  r2 {:.4f}  test loss {:.4f}  ({} examples)\n", e.result.rmse,
                 e.result.r2, e.result.loss, e.result.examples);
      fmt::print("wrote {}/evaluation.json\n", dir);
      return;
    }
    fmt::print("test accuracy {:.4f}  test loss {:.4f}  ({} examples)\n", e.result.accuracy,
               e.result.loss, e.result.examples);
    fmt::print("wrote {}/evaluation.json, confusion.csv and confusion.png\n", dir);
  });
}

void add_export_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "export",
      "Write a trained network as an ONNX model (opset 17, any batch size; an imported graph as "
      "it came, with the trained values)");
  auto model = std::make_shared<std::string>(), out = std::make_shared<std::string>(),
       format = std::make_shared<std::string>("onnx");
  cmd->add_option("model", *model,
                  "Run directory of tide train, or a .safetensors file (model.safetensors, a "
                  "checkpoint) in one")
      ->required();
  cmd->add_option("out", *out, "The file to write (OUT.onnx)")->required();
  cmd->add_option("--format", *format, "The format: onnx")->check(CLI::IsMember({"onnx"}));
  cmd->callback([model, out] {
    const TrainedModel m = load_trained_model(*model);
    write_onnx(*m.module, m.inputs.sample, *out);
    const OnnxModel written = OnnxModel::read(*out);
    fmt::print("wrote {}: opset {}, input '{}' (batch, {}), output '{}'\n", *out, written.opset(),
               written.input_name(), fmt::join(m.inputs.sample.dims(), ", "),
               written.output_name());
  });
}

}  // namespace tide::cli
