// Labelled synthetic time series, for demonstrations and tests of unsupervised
// classification: each class is a shape (sine, square, sawtooth, chirp, bursts, triangle,
// damped oscillation, steps), and each series of a class has its own random phase,
// amplitude, linear trend and noise.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tide {

struct SeriesOptions {
  int64_t series = 100;  // how many
  int64_t length = 128;  // points per series
  int64_t classes = 4;   // shapes used, the first `classes` of series_shapes()
  double noise = 0.1;    // standard deviation of Gaussian noise, relative to amplitude 1
  double trend = 0.5;    // the linear trend's largest total rise over a series (either sign)
  uint64_t seed = 0;
};

// The shapes in class order: sine, square, sawtooth, chirp, bursts, triangle, damped, steps.
const std::vector<std::string>& series_shapes();

struct LabelledSeries {
  int64_t label = 0;  // the shape's index
  std::vector<double> values;
};

// Series i has class i % classes; its randomness is RngStream(seed, data, {i}), so any one
// series can be made alone. Throws naming the flag for out-of-range options.
std::vector<LabelledSeries> generate_series(const SeriesOptions& options);

// Writes long-format CSV: a header `series_id,t,value,label` and one row per point.
void write_series_csv(const std::string& path, const std::vector<LabelledSeries>& series);

}  // namespace tide
