// Configuration of a training run. The CLI fills it from flags and a TOML file; library
// users fill it directly.
#pragma once

#include <cstdint>
#include <string>

#include "tide/optim/schedule.hpp"

namespace tide {

struct TrainConfig {
  std::string model = "mlp";              // see models.hpp
  std::string dataset = "fashion-mnist";  // fashion-mnist | mnist | folder
  std::string data_dir;                   // empty: the dataset's default location
  int64_t image_size = 64;                // folder: images are resized and cropped to this
  int64_t epochs = 5;
  int64_t max_steps = 0;  // stop after this many steps; 0: no limit
  int64_t batch_size = 64;
  double lr = 0.01;
  double momentum = 0.9;
  double weight_decay = 0;
  bool nesterov = false;
  ScheduleOptions schedule;  // --lr-schedule, --warmup-steps, --min-lr
  uint64_t seed = 0;
  int threads = 0;          // 0: one per core
  std::string run_dir;      // empty: runs/<model>-<dataset>-<time>
  int64_t log_every = 100;  // steps between rows of metrics.csv
  int prefetch = 2;         // batches prepared ahead by the loader thread
};

// Throws tide::Error naming the option (as its flag, e.g. --batch-size) when a value is out
// of range.
void validate(const TrainConfig& config);

// The configuration as TOML, one `key = value` per line with the flag names as keys, so the
// file can be passed back with --config to repeat the run.
std::string to_toml(const TrainConfig& config);

}  // namespace tide
