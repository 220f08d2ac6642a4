// TensorBoard event files: scalars, histograms, the SessionLog of a resumed run and the
// hparams plugin's records, in the record format TensorBoard reads. Each
// record is a little-endian uint64 length, the masked CRC-32C of those 8 bytes, a
// serialized Event protobuf, and the masked CRC-32C of it. The file is
// <dir>/events.out.tfevents.<unix time>.<host>, and starts with the file-version event.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tide {

class EventWriter {
 public:
  // Creates the event file in `dir` (which must exist); throws naming it on failure.
  explicit EventWriter(const std::string& dir);
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  const std::string& path() const { return path_; }
  // One scalar at a step; written through at once (flushed), as every record is.
  void scalar(const std::string& tag, int64_t step, double value);
  // The distribution of `n` values at a step: min, max, count, sum, sum of squares and
  // `buckets` equal-width buckets from min to max (one bucket when all are equal).
  // Non-finite values are left out of it.
  void histogram(const std::string& tag, int64_t step, const float* values, int64_t n,
                 int buckets = 30);
  void histogram(const std::string& tag, int64_t step, const double* values, int64_t n,
                 int buckets = 30);
  // A SessionLog START at `step`: TensorBoard drops the points an earlier process wrote at
  // this step and after (a run resumed from a checkpoint at step - 1).
  void session_start(int64_t step, const std::string& message);

  // The hparams plugin. A run of an experiment is one session: its hyperparameters at the
  // start and its status at the end; its metrics are its scalars. The experiment's own
  // directory holds the experiment: the hyperparameters that vary and the metrics' tags.
  using HParam = std::variant<double, std::string, bool>;
  // A TOML value (config.toml's) as the plugin takes it: a bool, a number, else a string.
  static HParam hparam_from_toml(const std::string& value);
  void hparams_session_start(const std::vector<std::pair<std::string, HParam>>& hparams,
                             const std::string& group);
  void hparams_session_end(bool success);
  void hparams_experiment(const std::string& name,
                          const std::vector<std::pair<std::string, std::vector<HParam>>>& hparams,
                          const std::vector<std::string>& metric_tags);

 private:
  void write_record(std::string_view data);
  void write_hparams(const std::string& tag, const std::string& plugin_data);
  std::string path_;
  std::FILE* file_ = nullptr;
};

// CRC-32C (Castagnoli) of `bytes`, and TensorBoard's mask of it.
uint32_t crc32c(std::string_view bytes);
uint32_t masked_crc32c(std::string_view bytes);

}  // namespace tide
