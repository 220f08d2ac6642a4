// `tide predict` and `tide evaluate`: a trained classifier applied to new inputs, and to a
// labelled split with its confusion matrix.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "tide/classify/trained.hpp"
#include "tide/session/evaluation.hpp"

namespace tide {

// Named network inputs (N, C, H, W), prepared as the run's data was.
struct Inputs {
  std::vector<std::string> names;  // "photo.png", or "t10k-images-idx3-ubyte:17"
  Tensor values;
};

// The inputs in `path`: a PNG or JPEG image, or every image of an IDX file (plain or gzip,
// (N, H, W) or (N, C, H, W) bytes), or for a run of arrays or of a table every row of a .npy
// file (N, ...the sample shape). Images are converted to the run's channels, resized (and
// centre-cropped for image-folder runs) to its sample shape and normalised; a table's features
// are standardised as in training; arrays are taken as they are. Throws naming the file for
// one that is none of these, or whose inputs cannot become the run's.
Inputs read_inputs(const std::string& path, const InputSpec& spec);

struct PredictOptions {
  int64_t batch_size = 256;
  bool progress = true;  // a progress line on standard error over long inputs
};

// Writes one CSV row per input of `paths` (images, IDX, CSV tables or .npy files), in order:
// the input, the predicted class and its index, and the probability of every class (a column
// per class name); or for a regression the input and its predicted targets. Returns the rows.
int64_t predict(const TrainedModel& model, const std::vector<std::string>& paths, std::ostream& csv,
                const PredictOptions& options = {});

struct Evaluation {
  EvalResult result;
  std::vector<std::string> classes;
  std::vector<std::vector<int64_t>> confusion;  // [true class][predicted class]: counts
};

// Evaluates on the test split of `dataset` in `data_dir` (empty: the run's own dataset and
// directory), in batches of `batch_size`. A table run evaluates its own test split, or every
// row of --data-dir FILE (a directory's test.csv), standardised as in training; an arrays run
// its own test split, or x_test (every row of x) of --data-dir. A regression has the run's
// loss, RMSE and R^2 and no confusion matrix.
Evaluation evaluate_trained(const TrainedModel& model, const std::string& dataset,
                            const std::string& data_dir, int64_t batch_size = 256);

// evaluation.json (loss, accuracy, examples, per-class accuracy), confusion.csv and
// confusion.png in `dir`, created if missing; a regression's evaluation.json (loss, rmse, r2).
void write_evaluation(const Evaluation& e, const std::string& dir);

}  // namespace tide
