#include "tide/train/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include <nlohmann/json.hpp>

#include "tide/core/hash.hpp"
#include "tide/core/log.hpp"
#include "tide/core/read_file.hpp"
#include "tide/train/files.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;

constexpr int kFormat = 1;
constexpr const char* kOptimizerPrefix = "optimizer.";

std::string step_name(int64_t step) {
  return fmt::format("step-{:08}", step);
}

uint32_t crc32_of(std::string_view bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes at most 4 GiB a call.
  for (size_t begin = 0; begin < bytes.size(); begin += (1u << 30)) {
    const size_t n = std::min<size_t>(bytes.size() - begin, 1u << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + begin), static_cast<uInt>(n));
  }
  return static_cast<uint32_t>(crc);
}

// The step of a checkpoint file name "step-<N>.json", or -1.
int64_t step_of(const fs::path& p) {
  const std::string stem = p.stem().string();
  if (p.extension() != ".json" || stem.rfind("step-", 0) != 0) return -1;
  try {
    size_t used = 0;
    const int64_t step = std::stoll(stem.substr(5), &used);
    return used == stem.size() - 5 ? step : -1;
  } catch (const std::exception&) {
    return -1;
  }
}

void fsync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: the rename itself is atomic
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void write_file_atomically(const std::string& path, std::string_view bytes) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  TIDE_CHECK(fd >= 0, "{}: cannot create: {}", tmp, std::strerror(errno));
  size_t done = 0;
  int error = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n < 0 ? errno : ENOSPC;
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (error == 0 && ::fsync(fd) != 0) error = errno;
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error == 0 && std::rename(tmp.c_str(), path.c_str()) != 0) error = errno;
  if (error != 0) {
    ::unlink(tmp.c_str());
    TIDE_FAIL("{}: write failed after {} of {} bytes: {}", path, done, bytes.size(),
              std::strerror(error));
  }
  fsync_directory(fs::path(path).parent_path().string());
}

std::string text_hash(std::string_view text) {
  return fmt::format("{:016x}", fnv1a64(text.data(), text.size()));
}

CheckpointStore::CheckpointStore(std::string dir, int keep) : dir_(std::move(dir)), keep_(keep) {
  TIDE_CHECK(keep >= 0, "--keep-checkpoints must be >= 0 (0 keeps all), got {}", keep);
}

std::string CheckpointStore::save(const TrainingState& state, const TensorMap& model,
                                  const TensorMap& optimizer) const {
  create_directory(dir_, "checkpoint directory");
  TensorMap tensors = model;
  for (const auto& [name, t] : optimizer) tensors.emplace(kOptimizerPrefix + name, t);
  const std::string bytes = encode_safetensors(
      tensors, {{"format", "tide-checkpoint"}, {"step", std::to_string(state.step)}});
  const std::string base = (fs::path(dir_) / step_name(state.step)).string();
  write_file_atomically(base + ".safetensors", bytes);
  // JSON has no infinity (plateau's best loss before its first evaluation): null stands for it.
  nlohmann::ordered_json schedule_json = nlohmann::ordered_json::array();
  for (const double v : state.lr_schedule)
    schedule_json.push_back(std::isfinite(v) ? nlohmann::ordered_json(v) : nullptr);
  const nlohmann::ordered_json j = {
      {"format", kFormat},
      {"step", state.step},
      {"epoch", state.epoch},
      {"batch", state.batch},
      {"seed", state.seed},
      {"world_size", state.world_size},
      {"config_hash", state.config_hash},
      {"lr_schedule", schedule_json},
      {"tensors", step_name(state.step) + ".safetensors"},
      {"tensors_bytes", bytes.size()},
      {"tensors_crc32", crc32_of(bytes)},
  };
  write_file_atomically(base + ".json", j.dump(2) + "\n");
  if (keep_ > 0) {
    const std::vector<std::string> all = list();
    std::error_code ec;  // an old checkpoint that cannot be removed stays
    for (size_t i = static_cast<size_t>(keep_); i < all.size(); ++i) {
      fs::path json(all[i]);
      fs::remove(json.replace_extension(".safetensors"), ec);
      fs::remove(all[i], ec);
    }
  }
  return base + ".json";
}

std::vector<std::string> CheckpointStore::list() const {
  std::vector<std::pair<int64_t, std::string>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const int64_t step = step_of(entry.path());
    if (step >= 0) found.emplace_back(step, entry.path().string());
  }
  std::sort(found.begin(), found.end(), std::greater<>());
  std::vector<std::string> out;
  for (auto& [step, path] : found) out.push_back(std::move(path));
  return out;
}

Checkpoint CheckpointStore::load(const std::string& given) {
  fs::path json_path(given);
  if (json_path.extension() == ".safetensors") json_path.replace_extension(".json");
  const std::string path = json_path.string();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file_bytes(path));
  } catch (const nlohmann::json::exception& e) {
    TIDE_FAIL("{}: not a checkpoint's JSON: {}", path, e.what());
  }
  Checkpoint c;
  c.path = path;
  std::string tensors_name;
  uint64_t tensors_bytes = 0;
  uint32_t tensors_crc = 0;
  try {
    TIDE_CHECK(j.at("format").get<int>() == kFormat, "{}: checkpoint format {} (expected {})", path,
               j.at("format").dump(), kFormat);
    c.state.step = j.at("step").get<int64_t>();
    c.state.epoch = j.at("epoch").get<int64_t>();
    c.state.batch = j.at("batch").get<int64_t>();
    c.state.seed = j.at("seed").get<uint64_t>();
    c.state.world_size = j.at("world_size").get<int>();
    c.state.config_hash = j.at("config_hash").get<std::string>();
    for (const auto& v : j.value("lr_schedule", nlohmann::json::array()))
      c.state.lr_schedule.push_back(v.is_null() ? std::numeric_limits<double>::infinity()
                                                : v.get<double>());
    tensors_name = j.at("tensors").get<std::string>();
    tensors_bytes = j.at("tensors_bytes").get<uint64_t>();
    tensors_crc = j.at("tensors_crc32").get<uint32_t>();
  } catch (const nlohmann::json::exception& e) {
    TIDE_FAIL("{}: a field is missing or malformed: {}", path, e.what());
  }
  const std::string tensors_path = (json_path.parent_path() / tensors_name).string();
  const std::string bytes = read_file_bytes(tensors_path);
  TIDE_CHECK(bytes.size() == tensors_bytes, "{}: {} bytes, expected {} (truncated?)", tensors_path,
             bytes.size(), tensors_bytes);
  const uint32_t crc = crc32_of(bytes);
  TIDE_CHECK(crc == tensors_crc, "{}: CRC-32 {:08x}, expected {:08x} (corrupt)", tensors_path, crc,
             tensors_crc);
  for (auto& [name, t] : decode_safetensors(bytes, tensors_path)) {
    if (name.rfind(kOptimizerPrefix, 0) == 0)
      c.optimizer.emplace(name.substr(std::strlen(kOptimizerPrefix)), std::move(t));
    else
      c.model.emplace(name, std::move(t));
  }
  return c;
}

std::optional<Checkpoint> CheckpointStore::load_newest() const {
  for (const std::string& path : list()) {
    try {
      return load(path);
    } catch (const Error& e) {
      log_warn("skipping checkpoint {}: {}; trying the one before", path, e.what());
    }
  }
  return std::nullopt;
}

}  // namespace tide
