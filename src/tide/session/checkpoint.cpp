#include "tide/session/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>
#include <type_traits>
#include <utility>

#include <fmt/chrono.h>
#include <nlohmann/json.hpp>

#include "tide/core/hash.hpp"
#include "tide/core/log.hpp"
#include "tide/core/read_file.hpp"
#include "tide/report/files.hpp"

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

// A checkpoint's JSON is a few hundred bytes; anything this large is not one.
constexpr uint64_t kMaxStateBytes = uint64_t{1} << 20;

std::tm now_utc() {
  const std::time_t t = std::time(nullptr);
  std::tm out{};
  gmtime_r(&t, &out);
  return out;
}

// A checkpoint's JSON, read and checked.
struct StateFile {
  TrainingState state;
  std::string tensors_path;  // beside the JSON
  uint64_t tensors_bytes = 0;
  uint32_t tensors_crc = 0;
};

// An integer field, refused unless it is an integer in T's range (nlohmann would wrap -1
// into a uint64_t and truncate a uint32_t).
template <class T>
T field(const nlohmann::json& j, const char* key, const std::string& path) {
  const nlohmann::json& v = j.at(key);
  const bool fits =
      std::is_signed_v<T>
          ? v.is_number_integer() &&
                !(v.is_number_unsigned() && v.get<uint64_t>() > uint64_t{INT64_MAX}) &&
                std::in_range<T>(v.get<int64_t>())
          : v.is_number_unsigned() && std::in_range<T>(v.get<uint64_t>());
  TIDE_CHECK(fits, "{}: \"{}\" is {}; expected an integer from {} to {}", path, key, v.dump(),
             std::numeric_limits<T>::min(), std::numeric_limits<T>::max());
  return v.get<T>();
}

StateFile read_state_file(const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file_bytes(path, kMaxStateBytes, "a checkpoint's JSON"));
  } catch (const nlohmann::json::exception& e) {
    TIDE_FAIL("{}: not a checkpoint's JSON: {}", path, e.what());
  }
  TIDE_CHECK(j.is_object(), "{}: not a checkpoint's JSON: expected an object, found {}", path,
             j.type_name());
  StateFile f;
  TrainingState& s = f.state;
  std::string tensors_name;
  try {
    TIDE_CHECK(j.at("format").is_number_integer() && j.at("format").get<int64_t>() == kFormat,
               "{}: checkpoint format {} (expected {})", path, j.at("format").dump(), kFormat);
    s.step = field<int64_t>(j, "step", path);
    s.epoch = field<int64_t>(j, "epoch", path);
    s.batch = field<int64_t>(j, "batch", path);
    s.seed = field<uint64_t>(j, "seed", path);
    const int64_t world = field<int>(j, "world_size", path);
    TIDE_CHECK(s.step >= 0 && s.epoch >= 0 && s.batch >= 0,
               "{}: step {}, epoch {} and batch {} must be >= 0", path, s.step, s.epoch, s.batch);
    TIDE_CHECK(world >= 1, "{}: world_size {} must be a positive rank count", path, world);
    s.world_size = static_cast<int>(world);
    s.config_hash = j.at("config_hash").get<std::string>();
    for (const auto& v : j.value("lr_schedule", nlohmann::json::array())) {
      TIDE_CHECK(v.is_null() || v.is_number(), "{}: lr_schedule holds {}; expected numbers", path,
                 v.dump());
      s.lr_schedule.push_back(v.is_null() ? std::numeric_limits<double>::infinity()
                                          : v.get<double>());
    }
    // Written since issue 16; an older checkpoint names no model.
    s.model_flags = j.value("model_flags", std::string());
    tensors_name = j.at("tensors").get<std::string>();
    f.tensors_bytes = field<uint64_t>(j, "tensors_bytes", path);
    f.tensors_crc = field<uint32_t>(j, "tensors_crc32", path);
  } catch (const nlohmann::json::exception& e) {
    TIDE_FAIL("{}: a field is missing or malformed: {}", path, e.what());
  }
  // The tensors live beside the JSON: a path elsewhere (/dev/zero, ../x) is not followed.
  const fs::path name(tensors_name);
  TIDE_CHECK(name.has_filename() && name == name.filename() && name.extension() == ".safetensors",
             "{}: \"tensors\" is \"{}\"; expected the name of a .safetensors file beside it", path,
             tensors_name);
  f.tensors_path = (fs::path(path).parent_path() / name).string();
  return f;
}

// The tensors file's bytes, after its size and CRC-32 match the JSON's.
std::string read_verified_tensors(const StateFile& f) {
  const std::string bytes =
      read_file_bytes(f.tensors_path, f.tensors_bytes, "its checkpoint's JSON says it");
  TIDE_CHECK(bytes.size() == f.tensors_bytes, "{}: {} bytes, expected {} (truncated?)",
             f.tensors_path, bytes.size(), f.tensors_bytes);
  const uint32_t crc = crc32_of(bytes);
  TIDE_CHECK(crc == f.tensors_crc, "{}: CRC-32 {:08x}, expected {:08x} (corrupt)", f.tensors_path,
             crc, f.tensors_crc);
  return bytes;
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

void CheckpointStore::begin_timeline(int64_t step) {
  timeline_start_ = step;
}

std::string CheckpointStore::save(const TrainingState& state, const TensorMap& model,
                                  const TensorMap& optimizer) {
  create_directory(dir_, "checkpoint directory");
  if (timeline_start_ >= 0) supersede_later_steps();
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
      {"model_flags", state.model_flags},
      {"tensors", step_name(state.step) + ".safetensors"},
      {"tensors_bytes", bytes.size()},
      {"tensors_crc32", crc32_of(bytes)},
  };
  write_file_atomically(base + ".json", j.dump(2) + "\n");
  // What rotation trusts is what is on disk, not what was meant to be written.
  read_verified_tensors(read_state_file(base + ".json"));
  if (keep_ > 0) rotate(state.step);
  return base + ".json";
}

void CheckpointStore::supersede_later_steps() {
  const int64_t start = timeline_start_;
  timeline_start_ = -1;  // once per run
  std::vector<std::string> later;
  for (const std::string& path : list())
    if (step_of(path) > start) later.push_back(path);
  if (later.empty()) return;
  const fs::path to = fs::path(dir_) / "superseded" / fmt::format("{:%Y%m%d-%H%M%S}", now_utc());
  create_directory(to.string(), "directory for superseded checkpoints");
  for (const std::string& path : later) {
    fs::path json(path), tensors(path);
    tensors.replace_extension(".safetensors");
    std::error_code ec;
    fs::rename(json, to / json.filename(), ec);
    TIDE_CHECK(!ec, "{}: cannot move it to {}: {}", path, to.string(), ec.message());
    if (fs::exists(tensors)) fs::rename(tensors, to / tensors.filename(), ec);
    TIDE_CHECK(!ec, "{}: cannot move it to {}: {}", tensors.string(), to.string(), ec.message());
  }
  log_warn("this run continues from step {}: {} later checkpoint{} of another run {} moved to {}",
           start, later.size(), later.size() == 1 ? "" : "s", later.size() == 1 ? "was" : "were",
           to.string());
}

void CheckpointStore::rotate(int64_t newest) const {
  int kept = 1;  // the one just written and verified
  for (const std::string& path : list()) {
    if (step_of(path) >= newest) continue;
    fs::path tensors(path);
    tensors.replace_extension(".safetensors");
    try {
      const StateFile f = read_state_file(path);
      std::error_code ec;
      if (f.tensors_path != tensors.string() || f.state.step != step_of(path) ||
          fs::file_size(tensors, ec) != f.tensors_bytes || ec)
        continue;
    } catch (const Error&) {
      continue;  // not a checkpoint this store wrote, or a damaged one: a person looks
    }
    if (kept < keep_) {
      ++kept;
      continue;
    }
    std::error_code ec;  // an old checkpoint that cannot be removed stays
    fs::remove(tensors, ec);
    fs::remove(path, ec);
  }
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
  const StateFile f = read_state_file(json_path.string());
  Checkpoint c;
  c.path = json_path.string();
  c.state = f.state;
  for (auto& [name, t] : decode_safetensors(read_verified_tensors(f), f.tensors_path)) {
    check_finite(t, fmt::format("{}: tensor '{}'", f.tensors_path, name));
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
