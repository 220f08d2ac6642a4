// A trained classifier as its run directory keeps it: what `tide predict` and
// `tide evaluate` load.
//
// A run directory holds model.toml or model.onnx (the network), model.safetensors (its parameters and
// buffers) and model.json: the values of the file's arguments the run set (--hidden 64) and
// how raw inputs become the network's (the dataset, the sample shape, class names, crop and
// normalisation; arrays are fed as they are).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tide/classify/datasets.hpp"
#include "tide/models/model_file.hpp"
#include "tide/nn/module.hpp"
#include "tide/session/config.hpp"

namespace tide {

struct InputSpec {
  std::string dataset;               // fashion-mnist, mnist, folder, csv or arrays
  std::string data_dir;              // where the run's data was
  Shape sample;                      // one input: (C, H, W), or (features) for a table
  std::vector<std::string> classes;  // the class names; regression: the target names
  // Images: scaled to [0, 1], then (x - mean) / stddev per channel. Folders resize the
  // shorter side to 8/7 of the size and take the centre; IDX-style data resize to (H, W).
  bool centre_crop = false;
  std::vector<float> mean, stddev;
  std::optional<TableSpec> table;  // csv: its columns and their standardisation
  // What the outputs are (classes or regression targets) and the loss they were trained by,
  // which evaluation reports.
  Task task = Task::classification;
  LossKind loss = LossKind::cross_entropy;
  double huber_delta = 1;
};

// model.json's content, and back (throwing naming `source` for a missing or ill-typed field).
nlohmann::ordered_json model_json(const InputSpec& inputs, const ModelArguments& arguments);
std::pair<InputSpec, ModelArguments> from_model_json(const nlohmann::json& j,
                                                     const std::string& source);
// The inputs of a run of `config` on `data`.
InputSpec input_spec(const TrainConfig& config, const DataSplits& data);

struct TrainedModel {
  std::string run_dir;
  std::string weights;             // the safetensors file loaded
  std::shared_ptr<Module> module;  // in eval mode
  InputSpec inputs;
  ModelArguments arguments;
};

// Loads RUN_DIR (its model.safetensors), or a .safetensors file in a run directory or in its
// checkpoints/, or an ONNX model on its own (its inputs fed as arrays, its outputs classes
// 0, 1, ...). Throws naming the path when model.toml (or model.onnx), model.json or the weights are
// missing, or when the weights do not fit the network (the tensor and both shapes).
TrainedModel load_trained_model(const std::string& path);

}  // namespace tide
