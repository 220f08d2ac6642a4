#include "tide/classify/trained.hpp"

#include <cmath>
#include <filesystem>

#include "tide/classify/network_file.hpp"
#include "tide/core/read_file.hpp"
#include "tide/data/image_folder.hpp"
#include "tide/data/mnist.hpp"
#include "tide/tensor/safetensors.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> class_names(const TrainConfig& c, const DataSplits& data) {
  if (c.task == Task::regression) {  // the target columns of a table, y0, y1, ... of arrays
    if (data.table) return data.table->targets;
    std::vector<std::string> names;
    for (int64_t i = 0; i < data.classes; ++i) names.push_back(fmt::format("y{}", i));
    return names;
  }
  if (data.table) {
    std::vector<std::string> names;
    for (const double v : data.table->labels) names.push_back(fmt::format("{}", v));
    return names;
  }
  if (c.dataset == "fashion-mnist")
    return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  if (const auto* folder = dynamic_cast<const ImageFolder*>(data.test.get()))
    return folder->classes();
  std::vector<std::string> names;
  for (int64_t i = 0; i < data.classes; ++i) names.push_back(std::to_string(i));
  return names;
}

// The choice named `name` of enum E, or an error naming `source`.
template <typename E>
E choice_of(const std::string& name, const char* key, const std::string& source) {
  try {
    return parse_choice<E>(name, key);
  } catch (const Error& e) {
    TIDE_FAIL("{}: {}", source, e.what());
  }
}

template <typename T>
T field(const nlohmann::json& j, const char* key, const std::string& source) {
  TIDE_CHECK(j.is_object() && j.contains(key), "{}: has no \"{}\"", source, key);
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::json::exception& e) {
    TIDE_FAIL("{}: \"{}\" is not what was expected: {}", source, key, e.what());
  }
}

// The run directory of `path` and the weights to load from it.
std::pair<std::string, std::string> locate(const std::string& path) {
  if (fs::is_directory(path)) return {path, (fs::path(path) / "model.safetensors").string()};
  TIDE_CHECK(fs::is_regular_file(path), "{}: no such run directory or safetensors file", path);
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  if (!fs::exists(dir / "model.json") && dir.filename() == "checkpoints") dir = dir.parent_path();
  return {dir.string(), path};
}

}  // namespace

nlohmann::ordered_json model_json(const InputSpec& s, const ModelArguments& arguments) {
  std::vector<int64_t> sample;
  for (int i = 0; i < s.sample.ndim(); ++i) sample.push_back(s.sample[i]);
  nlohmann::ordered_json args = nlohmann::ordered_json::object();
  for (const auto& [name, value] : arguments)
    std::visit([&, &name = name](auto v) { args[name] = v; }, value);
  nlohmann::ordered_json inputs = {
      {"dataset", s.dataset}, {"data_dir", s.data_dir},       {"sample_shape", sample},
      {"classes", s.classes}, {"centre_crop", s.centre_crop}, {"mean", s.mean},
      {"stddev", s.stddev}};
  if (s.table) inputs["table"] = to_json(*s.table);
  inputs["task"] = std::string(name_of(s.task));
  inputs["loss"] = std::string(name_of(s.loss));
  inputs["huber_delta"] = s.huber_delta;
  return {{"arguments", args}, {"inputs", inputs}};
}

std::pair<InputSpec, ModelArguments> from_model_json(const nlohmann::json& root,
                                                     const std::string& source) {
  const auto args = field<nlohmann::json>(root, "arguments", source);
  TIDE_CHECK(args.is_object(), "{}: \"arguments\" must be an object", source);
  ModelArguments arguments;
  for (const auto& [name, v] : args.items()) {
    if (v.is_boolean())
      arguments[name] = v.get<bool>();
    else if (v.is_number_integer())
      arguments[name] = v.get<int64_t>();
    else if (v.is_number())
      arguments[name] = v.get<double>();
    else
      TIDE_FAIL("{}: argument \"{}\" must be true, false or a number", source, name);
  }
  const auto j = field<nlohmann::json>(root, "inputs", source);
  InputSpec s;
  s.dataset = field<std::string>(j, "dataset", source);
  s.data_dir = field<std::string>(j, "data_dir", source);
  const auto sample = field<std::vector<int64_t>>(j, "sample_shape", source);
  s.classes = field<std::vector<std::string>>(j, "classes", source);
  TIDE_CHECK(!s.classes.empty(), "{}: lists no classes", source);
  // Runs written before these fields were recorded classified, or regressed a table by mse.
  const bool table_regression = j.contains("table") &&
                                field<nlohmann::json>(j, "table", source).contains("task") &&
                                field<std::string>(j.at("table"), "task", source) == "regression";
  s.task = j.contains("task")
               ? choice_of<Task>(field<std::string>(j, "task", source), "task", source)
           : table_regression ? Task::regression
                              : Task::classification;
  s.loss = j.contains("loss")
               ? choice_of<LossKind>(field<std::string>(j, "loss", source), "loss", source)
           : s.task == Task::regression ? LossKind::mse
                                        : LossKind::cross_entropy;
  s.huber_delta = j.contains("huber_delta") ? field<double>(j, "huber_delta", source) : 1.0;
  TIDE_CHECK(s.huber_delta > 0 && std::isfinite(s.huber_delta),
             "{}: huber_delta must be positive, got {}", source, s.huber_delta);
  if (s.dataset == "arrays") {
    TIDE_CHECK(!sample.empty(), "{}: sample_shape must list one or more sizes", source);
    int64_t n = 1;
    for (const int64_t d : sample)
      TIDE_CHECK(d > 0 && d <= (int64_t{1} << 30) && (n *= d) <= (int64_t{1} << 30),
                 "{}: sample_shape sizes must be positive, at most 2^30 values", source);
    s.sample = Shape(sample);
    return {s, arguments};
  }
  if (j.contains("table")) {
    s.table = table_spec_from_json(j.at("table"), source);
    TIDE_CHECK(sample == std::vector<int64_t>{static_cast<int64_t>(s.table->features.size())},
               "{}: a table's sample_shape is its number of features", source);
    s.sample = Shape(sample);
    return {s, arguments};
  }
  TIDE_CHECK(sample.size() == 3 && sample[0] > 0 && sample[0] <= 4 && sample[1] > 0 &&
                 sample[2] > 0 && sample[1] * sample[2] <= (int64_t{1} << 26),
             "{}: sample_shape must be images (C, H, W) of 1 to 4 channels", source);
  s.sample = Shape(sample);
  s.centre_crop = field<bool>(j, "centre_crop", source);
  s.mean = field<std::vector<float>>(j, "mean", source);
  s.stddev = field<std::vector<float>>(j, "stddev", source);
  TIDE_CHECK(static_cast<int64_t>(s.mean.size()) == sample[0] &&
                 static_cast<int64_t>(s.stddev.size()) == sample[0],
             "{}: mean and stddev need one value per channel ({})", source, sample[0]);
  for (const float v : s.stddev)
    TIDE_CHECK(v > 0 && std::isfinite(v), "{}: stddev must be positive, got {}", source, v);
  return {s, arguments};
}

InputSpec input_spec(const TrainConfig& c, const DataSplits& data) {
  InputSpec s{.dataset = c.dataset,
              .data_dir = c.data_dir,
              .sample = data.train->sample_shape(),
              .classes = class_names(c, data),
              .centre_crop = c.dataset == "folder",
              .mean = {},
              .stddev = {},
              .table = data.table,
              .task = c.task,
              .loss = loss_of(c),
              .huber_delta = c.huber_delta};
  if (data.table || c.dataset == "arrays") {
    s.centre_crop = false;
  } else if (c.dataset == "folder") {
    const ImageFolderOptions o;
    s.mean = o.mean;
    s.stddev = o.stddev;
  } else {
    const Normalization n = default_normalization(c.dataset);
    s.mean = {n.mean};
    s.stddev = {n.stddev};
  }
  return s;
}

namespace {

// A bare ONNX model: its inputs are fed as they are (arrays), its outputs are classes 0, 1, ...
TrainedModel load_onnx_model(const std::string& path) {
  const OnnxModel onnx = OnnxModel::read(path);
  std::vector<int64_t> dims = onnx.input_dims();
  TIDE_CHECK(!dims.empty(), "{}: the graph's input '{}' has no shape; Tide needs one to feed it",
             path, onnx.input_name());
  dims.erase(dims.begin());
  for (const int64_t d : dims)
    TIDE_CHECK(d > 0,
               "{}: the graph's input '{}' has a dimension of no fixed size besides the "
               "batch; Tide needs every other one",
               path, onnx.input_name());
  InputSpec inputs;
  inputs.dataset = "arrays";
  inputs.sample = Shape(dims);
  const Network net = build_network(
      onnx, NetworkInputs{.sample = inputs.sample, .classes = 0, .arguments = {}, .seed = 0});
  TIDE_CHECK(net.output_shape.ndim() == 1,
             "{}: the graph gives {} per sample; tide predict takes a vector of scores", path,
             net.output_shape.str());
  for (int64_t k = 0; k < net.output_shape[0]; ++k) inputs.classes.push_back(std::to_string(k));
  TrainedModel m{.run_dir = fs::path(path).parent_path().string(),
                 .weights = path,
                 .module = net.module,
                 .inputs = std::move(inputs),
                 .arguments = {}};
  m.module->eval();
  return m;
}

}  // namespace

TrainedModel load_trained_model(const std::string& path) {
  if (is_onnx_path(path) && fs::is_regular_file(path)) return load_onnx_model(path);
  const auto [dir, weights] = locate(path);
  const std::string spec_path = (fs::path(dir) / "model.json").string();
  std::string model_path = (fs::path(dir) / "model.toml").string();
  if (!fs::exists(model_path) && fs::exists(fs::path(dir) / "model.onnx"))
    model_path = (fs::path(dir) / "model.onnx").string();
  TIDE_CHECK(fs::exists(model_path) && fs::exists(spec_path),
             "{}: not a run directory of tide train (it needs model.toml or model.onnx, and "
             "model.json)",
             dir);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file_bytes(spec_path, 1 << 20, "model.json"));
  } catch (const nlohmann::json::exception& e) {
    TIDE_FAIL("{}: not valid JSON: {}", spec_path, e.what());
  }
  TrainedModel m{
      .run_dir = dir, .weights = weights, .module = nullptr, .inputs = {}, .arguments = {}};
  std::tie(m.inputs, m.arguments) = from_model_json(j, spec_path);
  RngStream rng(0, RngPurpose::init);  // the weights are loaded over what this draws
  m.module = NetworkFile::read(model_path)
                 .build(NetworkInputs{.sample = m.inputs.sample,
                                      .classes = static_cast<int64_t>(m.inputs.classes.size()),
                                      .arguments = m.arguments,
                                      .seed = 0},
                        rng)
                 .module;
  const TensorMap state = load_safetensors(weights);
  try {
    m.module->load_state_dict(state);
  } catch (const Error& e) {
    TIDE_FAIL("{} does not fit the network of {}: {}", weights, model_path, e.what());
  }
  m.module->eval();
  return m;
}

}  // namespace tide
