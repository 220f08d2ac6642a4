#include "tide/classify/predict.hpp"

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <ostream>

#include <fmt/ostream.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "tide/autograd/ops.hpp"
#include "tide/classify/arrays.hpp"
#include "tide/classify/evaluate.hpp"
#include "tide/classify/tabular.hpp"
#include "tide/data/csv.hpp"
#include "tide/data/idx.hpp"
#include "tide/data/image_folder.hpp"
#include "tide/data/image_io.hpp"
#include "tide/data/loader.hpp"
#include "tide/data/mnist.hpp"
#include "tide/report/files.hpp"
#include "tide/report/plot.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;

enum class InputKind { image, idx, npy, other };

InputKind kind_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TIDE_CHECK(in.good() && fs::is_regular_file(path), "{}: cannot read this input", path);
  unsigned char head[6] = {};
  in.read(reinterpret_cast<char*>(head), 6);
  if ((head[0] == 0x89 && head[1] == 'P') || (head[0] == 0xFF && head[1] == 0xD8))
    return InputKind::image;
  if ((head[0] == 0 && head[1] == 0 && head[2] == 0x08) || (head[0] == 0x1f && head[1] == 0x8b))
    return InputKind::idx;
  if (head[0] == 0x93 && std::memcmp(head + 1, "NUMPY", 5) == 0) return InputKind::npy;
  return InputKind::other;
}

// The inputs of a .npy file (N, ...sample) a batch at a time, for a model of arrays (fed as
// they are) or of a table (features in the model's column order, standardised as in training).
class NpyInputs {
 public:
  NpyInputs(const std::string& path, const InputSpec& spec)
      : name_(fs::path(path).filename().string()), spec_(spec), a_(open_npy(path)) {
    TIDE_CHECK(spec.dataset == "arrays" || spec.table,
               "{}: a .npy file holds arrays; the model learned from images ({}), so give it "
               "images or IDX files",
               path, spec.dataset);
    std::vector<int64_t> dims = spec.sample.dims();
    dims.insert(dims.begin(), a_.shape.ndim() > 0 ? a_.shape[0] : 0);
    TIDE_CHECK(a_.shape.ndim() == static_cast<int>(dims.size()) && a_.shape == Shape(dims),
               "{}: the inputs are {}; the network takes (N, {})", path, a_.shape.str(),
               spec.sample.str().substr(1, spec.sample.str().size() - 2));
  }
  int64_t size() const { return a_.rows(); }
  Inputs batch(int64_t begin, int64_t end) const {
    std::vector<int64_t> dims = spec_.sample.dims();
    dims.insert(dims.begin(), end - begin);
    Inputs out{.names = {}, .values = Tensor::empty(Shape(dims))};
    const int64_t row = a_.row_elements();
    float* p = out.values.data<float>();
    a_.convert(p, begin * row, (end - begin) * row);
    if (spec_.table)
      for (int64_t i = 0; i < (end - begin) * row; ++i)
        p[i] = spec_.table->standardised(p[i], static_cast<size_t>(i % row));
    for (int64_t i = begin; i < end; ++i) out.names.push_back(fmt::format("{}:{}", name_, i));
    return out;
  }

 private:
  std::string name_;
  const InputSpec& spec_;
  MappedArray a_;
};

// Writes `img` (H, W, C bytes, the run's channels) as a normalised (C, H, W) input at `out`.
void write_input(float* out, const Image& img, const InputSpec& spec) {
  const int64_t c = spec.sample[0], h = spec.sample[1], w = spec.sample[2];
  for (int64_t ch = 0; ch < c; ++ch) {
    const float scale = 1.0f / (255.0f * spec.stddev[ch]), shift = spec.mean[ch] / spec.stddev[ch];
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        out[(ch * h + y) * w + x] = img.pixels[(y * w + x) * c + ch] * scale - shift;
  }
}

// An image as the run's data were: its channels, resized (folders: the shorter side, then
// the centre square) to the sample's height and width.
Image fit_image(Image img, const InputSpec& spec, const std::string& path) {
  const int64_t h = spec.sample[1], w = spec.sample[2];
  img = convert_channels(img, spec.sample[0]);
  if (spec.centre_crop) {
    TIDE_CHECK(h == w, "{}: the run's inputs are {}x{}, not square", path, w, h);
    img = resize_for_crop(img, h, path);
    return crop(img, (img.height - h) / 2, (img.width - w) / 2, h, w);
  }
  return img.height == h && img.width == w ? img : resize(img, h, w);
}

// The images of an IDX file, (N, H, W) or (N, C, H, W) bytes, made into inputs a batch at a
// time: the file's bytes are read once, the floats only for the batch.
class IdxInputs {
 public:
  IdxInputs(const std::string& path, const InputSpec& spec)
      : path_(path), name_(fs::path(path).filename().string()), spec_(spec), a_(read_idx(path)) {
    const size_t rank = a_.dims.size();
    TIDE_CHECK(rank == 3 || rank == 4,
               "{}: IDX images are (N, H, W) or (N, C, H, W) bytes; this file has {} dimensions",
               path, rank);
    c_ = rank == 4 ? a_.dims[1] : 1;
    h_ = a_.dims[rank - 2];
    w_ = a_.dims[rank - 1];
    TIDE_CHECK(c_ == 1 || c_ == 3, "{}: images of {} channels; tide reads 1 (gray) or 3 (RGB)",
               path, c_);
  }
  int64_t size() const { return a_.dims[0]; }
  Inputs batch(int64_t begin, int64_t end) const {
    Inputs out{
        .names = {},
        .values = Tensor::empty({end - begin, spec_.sample[0], spec_.sample[1], spec_.sample[2]})};
    const int64_t per_image = c_ * h_ * w_, per_input = spec_.sample.numel();
    for (int64_t i = begin; i < end; ++i) {
      Image img{.height = h_, .width = w_, .channels = c_, .pixels = {}};
      img.pixels.resize(static_cast<size_t>(per_image));
      const uint8_t* src = a_.data.data() + i * per_image;
      for (int64_t y = 0; y < h_; ++y)  // (C, H, W) bytes -> (H, W, C)
        for (int64_t x = 0; x < w_; ++x)
          for (int64_t ch = 0; ch < c_; ++ch)
            img.pixels[static_cast<size_t>((y * w_ + x) * c_ + ch)] = src[(ch * h_ + y) * w_ + x];
      write_input(out.values.data<float>() + (i - begin) * per_input,
                  fit_image(std::move(img), spec_, path_), spec_);
      out.names.push_back(fmt::format("{}:{}", name_, i));
    }
    return out;
  }

 private:
  std::string path_, name_;
  const InputSpec& spec_;
  IdxArray a_;
  int64_t c_ = 1, h_ = 0, w_ = 0;
};

// A CSV field: quoted when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (const char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// The kind of input `path` is, refused when the model cannot take it: a model of arrays takes
// .npy files; one of a table CSV or .npy files; one of images images or IDX files.
InputKind checked_kind(const std::string& path, const InputSpec& spec) {
  const InputKind kind = kind_of(path);
  if (kind == InputKind::npy) return kind;
  TIDE_CHECK(spec.dataset != "arrays",
             "{}: not a .npy file; the model learned from arrays and predicts from .npy files",
             path);
  if (spec.table) return kind;
  TIDE_CHECK(kind != InputKind::other,
             "{}: not an input tide predict reads (a PNG or JPEG image, an IDX file of images, "
             "or a .npy file for a model of arrays or tables)",
             path);
  return kind;
}

}  // namespace

Inputs read_inputs(const std::string& path, const InputSpec& spec) {
  const InputKind kind = checked_kind(path, spec);
  if (kind == InputKind::npy) {
    const NpyInputs npy(path, spec);
    return npy.batch(0, npy.size());
  }
  TIDE_CHECK(!spec.table,
             "{}: a model of a table takes CSV rows, which predict() reads, or .npy files", path);
  if (kind == InputKind::idx) {
    const IdxInputs idx(path, spec);
    return idx.batch(0, idx.size());
  }
  Inputs out{.names = {path},
             .values = Tensor::empty({1, spec.sample[0], spec.sample[1], spec.sample[2]})};
  write_input(out.values.data<float>(), fit_image(read_image(path), spec, path), spec);
  return out;
}

namespace {

// Writes the rows of one batch: the class and every probability, or the predicted values.
void write_rows(std::ostream& csv, const TrainedModel& model, const std::vector<std::string>& names,
                const Tensor& inputs) {
  const std::vector<std::string>& classes = model.inputs.classes;
  const bool regression = model.inputs.task == Task::regression;
  const Variable out = (*model.module)(Variable(inputs));
  const Tensor p = regression ? out.value() : softmax(out, 1).value();
  TIDE_CHECK(p.ndim() == 2 && p.dim(1) == static_cast<int64_t>(classes.size()),
             "{}: the network gives {} for a batch; expected (N, {})", model.run_dir,
             p.shape().str(), classes.size());
  const float* q = p.data<float>();
  for (int64_t r = 0; r < p.dim(0); ++r) {
    const float* row = q + r * p.dim(1);
    csv << csv_field(names[static_cast<size_t>(r)]);
    if (!regression) {
      const int64_t best = std::max_element(row, row + p.dim(1)) - row;
      csv << ',' << csv_field(classes[static_cast<size_t>(best)]) << ',' << best;
    }
    for (int64_t c = 0; c < p.dim(1); ++c) csv << fmt::format(",{:.6g}", row[c]);
    csv << '\n';
  }
}

}  // namespace

int64_t predict(const TrainedModel& model, const std::vector<std::string>& paths, std::ostream& csv,
                const PredictOptions& options) {
  TIDE_CHECK(options.batch_size > 0, "the batch size must be positive, got {}", options.batch_size);
  const bool regression = model.inputs.task == Task::regression;
  csv << (regression ? "input" : "input,class,index");
  for (const std::string& c : model.inputs.classes) csv << ',' << csv_field(c);
  csv << '\n';
  NoGradGuard no_grad;
  model.module->eval();
  const bool tty = options.progress && isatty(fileno(stderr));
  int64_t rows = 0;
  for (const std::string& path : paths) {
    const InputKind kind = checked_kind(path, model.inputs);
    std::optional<IdxInputs> idx;
    std::optional<NpyInputs> npy;
    std::optional<CsvTable> rows_of_table;
    Tensor features;
    if (kind == InputKind::npy) {
      npy.emplace(path, model.inputs);
    } else if (model.inputs.table) {
      rows_of_table = read_csv(path);
      features = table_features(*rows_of_table, *model.inputs.table);
    } else if (kind == InputKind::idx) {
      idx.emplace(path, model.inputs);
    }
    const int64_t n = npy             ? npy->size()
                      : rows_of_table ? rows_of_table->rows()
                      : idx           ? idx->size()
                                      : 1;
    for (int64_t begin = 0; begin < n; begin += options.batch_size) {
      const int64_t end = std::min(n, begin + options.batch_size);
      if (rows_of_table) {
        std::vector<std::string> names;
        for (int64_t i = begin; i < end; ++i)
          names.push_back(fmt::format("{}:{}", path, rows_of_table->lines[static_cast<size_t>(i)]));
        write_rows(csv, model, names, features.slice(begin, end));
      } else {
        const Inputs in = npy   ? npy->batch(begin, end)
                          : idx ? idx->batch(begin, end)
                                : read_inputs(path, model.inputs);
        write_rows(csv, model, in.names, in.values);
      }
      rows += end - begin;
      if (tty) fmt::print(stderr, "\rpredict: {} inputs", rows);
    }
  }
  if (tty) fmt::print(stderr, "\n");
  TIDE_CHECK(csv.good(), "writing the predictions failed");
  return rows;
}

namespace {

// A table run's evaluation: the run's test split, or every row of --data-dir FILE (the
// test.csv of a directory), made into inputs with the run's standardisation.
std::shared_ptr<Dataset> table_split(const TrainedModel& model, const std::string& data_dir) {
  const CsvTable t =
      data_dir.empty() ? test_rows(model.inputs.data_dir, false) : test_rows(data_dir, true);
  return std::make_shared<TensorDataset>(table_features(t, *model.inputs.table),
                                         table_targets(t, *model.inputs.table));
}

// The evaluation of `model` on `test`: the run's loss and accuracy with its confusion matrix,
// or a regression's loss, RMSE and R^2.
Evaluation evaluate_on(const TrainedModel& model, std::shared_ptr<Dataset> test,
                       int64_t batch_size) {
  DataLoader loader(test,
                    std::make_shared<DistributedSampler>(test->size(), 0, 1, batch_size, false, 0),
                    LoaderOptions{.batch_size = batch_size, .shuffle = false, .prefetch = 2});
  Evaluation e;
  e.classes = model.inputs.classes;
  if (model.inputs.task == Task::regression)
    e.result = evaluate_regression(*model.module, loader, Communicator::solo(),
                                   static_cast<int64_t>(e.classes.size()), model.inputs.loss,
                                   model.inputs.huber_delta);
  else
    e.result = evaluate(*model.module, loader, Communicator::solo(), &e.confusion);
  return e;
}

}  // namespace

Evaluation evaluate_trained(const TrainedModel& model, const std::string& dataset,
                            const std::string& data_dir, int64_t batch_size) {
  const std::string& own = model.inputs.dataset;
  if (model.inputs.table || own == "arrays") {
    TIDE_CHECK(dataset.empty() || dataset == own,
               "{} learned from {}; it evaluates on --dataset {}, not {}", model.run_dir,
               model.inputs.table ? "a table" : "arrays", own, dataset);
    if (model.inputs.table) return evaluate_on(model, table_split(model, data_dir), batch_size);
    const std::shared_ptr<ArrayDataset> test =
        array_test_split(data_dir.empty() ? model.inputs.data_dir : data_dir, model.inputs.task,
                         static_cast<int64_t>(model.inputs.classes.size()), !data_dir.empty());
    TIDE_CHECK(test->sample_shape() == model.inputs.sample,
               "{}: one input is {}; the network of {} takes {}", test->inputs().source,
               test->sample_shape().str(), model.run_dir, model.inputs.sample.str());
    return evaluate_on(model, test, batch_size);
  }
  TIDE_CHECK(dataset != "csv" && dataset != "arrays",
             "{} learned from images ({}); it evaluates on images, not on --dataset {}",
             model.run_dir, own, dataset);
  TrainConfig c;
  c.dataset = dataset.empty() ? model.inputs.dataset : dataset;
  c.data_dir =
      data_dir.empty() && c.dataset == model.inputs.dataset ? model.inputs.data_dir : data_dir;
  c.data_dir = data_dir_or_default(c.dataset, c.data_dir);
  c.image_size = model.inputs.sample[1];
  const DataSplits data = load_datasets(c);
  TIDE_CHECK(data.test->sample_shape() == model.inputs.sample,
             "the test images of {} are {}, the network of {} takes {}", c.data_dir,
             data.test->sample_shape().str(), model.run_dir, model.inputs.sample.str());
  TIDE_CHECK(data.classes == static_cast<int64_t>(model.inputs.classes.size()),
             "{} has {} classes, the network of {} {}", c.data_dir, data.classes, model.run_dir,
             model.inputs.classes.size());
  return evaluate_on(model, data.test, batch_size);
}

void write_evaluation(const Evaluation& e, const std::string& dir) {
  fs::create_directories(dir);
  if (e.confusion.empty()) {  // regression
    const nlohmann::ordered_json summary = {{"loss", e.result.loss},
                                            {"rmse", e.result.rmse},
                                            {"r2", e.result.r2},
                                            {"examples", e.result.examples},
                                            {"targets", e.classes}};
    write_text_file(dir + "/evaluation.json", summary.dump(2) + "\n");
    return;
  }
  nlohmann::ordered_json per_class = nlohmann::ordered_json::object();
  std::string csv = "true\\predicted";
  for (const std::string& c : e.classes) csv += "," + csv_field(c);
  csv += "\n";
  std::vector<std::vector<double>> cells;
  for (size_t t = 0; t < e.confusion.size(); ++t) {
    int64_t total = 0;
    csv += csv_field(e.classes[t]);
    cells.emplace_back();
    for (const int64_t n : e.confusion[t]) {
      csv += fmt::format(",{}", n);
      total += n;
      cells.back().push_back(static_cast<double>(n));
    }
    csv += "\n";
    per_class[e.classes[t]] =
        total == 0 ? 0.0 : static_cast<double>(e.confusion[t][t]) / static_cast<double>(total);
  }
  write_text_file(dir + "/confusion.csv", csv);
  const nlohmann::ordered_json summary = {{"loss", e.result.loss},
                                          {"accuracy", e.result.accuracy},
                                          {"examples", e.result.examples},
                                          {"per_class_accuracy", per_class}};
  write_text_file(dir + "/evaluation.json", summary.dump(2) + "\n");
  draw_heatmap(cells, e.classes, e.classes,
               fmt::format("confusion matrix: accuracy {:.4f} of {} examples", e.result.accuracy,
                           e.result.examples),
               "predicted", "true", dir + "/confusion.png");
}

}  // namespace tide
