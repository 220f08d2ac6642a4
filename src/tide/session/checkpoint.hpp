// Checkpoints of a training run, in <run dir>/checkpoints:
//
//   step-00000120.safetensors  the model's parameters and buffers under their PyTorch names
//                              (the `safetensors` library loads them), and the optimizer's
//                              state under "optimizer.<name>"
//   step-00000120.json         the training state: step, epoch, position in the epoch, seed,
//                              world size, config hash, and the size and CRC-32 of the
//                              tensors file
//
// Each file is written to a temporary name, flushed to disk (fsync) and renamed, the
// tensors first: a checkpoint exists once its JSON does, and a crash or a full disk leaves
// the earlier ones as they were. Loading verifies the size and CRC-32, and the newest
// checkpoint that fails is reported by name and the one before it is used.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tide/tensor/safetensors.hpp"

namespace tide {

struct TrainingState {
  int64_t step = 0;   // steps completed
  int64_t epoch = 0;  // the epoch the next step belongs to
  int64_t batch = 0;  // batches of that epoch each rank has consumed
  uint64_t seed = 0;
  int world_size = 1;
  std::string config_hash = {};          // of the settings that change what is computed
  std::vector<double> lr_schedule = {};  // what a stateful schedule (plateau) has learned
  std::string model_flags = {};          // "--model mlp --hidden 64": what a resume must ask for
};

struct Checkpoint {
  TrainingState state;
  TensorMap model;      // parameters and buffers
  TensorMap optimizer;  // the optimizer's state_dict()
  std::string path;     // its JSON file
};

class CheckpointStore {
 public:
  // `keep`: how many of the newest checkpoints to keep (older ones are deleted after a
  // successful save); 0 keeps all.
  CheckpointStore(std::string dir, int keep);

  const std::string& dir() const { return dir_; }
  // This run continues from `step` (0 for a fresh run). Checkpoints of later steps in the
  // directory belong to another timeline (a run resumed from an older checkpoint, or one
  // started afresh in an old run directory): the first save moves them, untouched, into
  // <dir>/superseded/<time>/, so that neither rotation nor `--resume auto` mixes them with
  // this run's.
  void begin_timeline(int64_t step);
  // Writes a checkpoint, reads it back to verify its size and CRC-32, and returns the path
  // of its JSON. Throws tide::Error naming the file and the reason when a write fails; the
  // earlier checkpoints are then untouched. Rotation then deletes only checkpoints older
  // than the verified one, beyond the `keep` newest that are whole (a readable JSON and a
  // tensors file of its recorded size); a file it cannot read as a checkpoint is never
  // deleted and never counted.
  std::string save(const TrainingState& state, const TensorMap& model, const TensorMap& optimizer);
  // The JSON files of the checkpoints, newest (highest step) first.
  std::vector<std::string> list() const;
  // The newest checkpoint that loads and verifies. Each newer one that does not is
  // reported with log_warn, by name and reason; nullopt when none is good.
  std::optional<Checkpoint> load_newest() const;

  // Loads and verifies one checkpoint from its JSON path (or its tensors path): the JSON's
  // fields and ranges, the tensors file's size and CRC-32, and that every value is finite.
  // Throws tide::Error naming the file and what is wrong.
  static Checkpoint load(const std::string& path);

 private:
  void supersede_later_steps();
  void rotate(int64_t newest) const;

  std::string dir_;
  int keep_;
  int64_t timeline_start_ = -1;  // -1: no timeline begun, nothing is moved
};

// Writes `bytes` to `path` through a temporary file, fsync and rename (then fsyncs the
// directory). On failure removes the temporary file and throws naming the path.
void write_file_atomically(const std::string& path, std::string_view bytes);

// A short hex digest (FNV-1a, 64 bits) of a text, for config hashes.
std::string text_hash(std::string_view text);

}  // namespace tide
