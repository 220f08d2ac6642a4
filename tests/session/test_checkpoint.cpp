// Checkpoints: the round trip, the format read by an independent reader, keeping the newest
// K, falling back from a corrupt or truncated newest one, a failed write that leaves the
// earlier checkpoints intact, rotation that never removes what it cannot verify, a resumed
// run's later timeline set aside, and hostile JSON and tensors files refused by name.
#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <limits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/testing.hpp"
#include "tide/session/checkpoint.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;
using testing::error_of;
using ::testing::HasSubstr;

std::string fresh_dir(const std::string& name) {
  const fs::path d = fs::path(::testing::TempDir()) / ("tide_ckpt_" + name);
  fs::remove_all(d);
  return d.string();
}

TrainingState state_at(int64_t step) {
  return TrainingState{.step = step,
                       .epoch = step / 10,
                       .batch = step % 10,
                       .seed = 7,
                       .world_size = 2,
                       .config_hash = "abc123"};
}

TensorMap model_at(int64_t step) {
  return {{"0.weight", Tensor::full({3, 4}, 0.5 * static_cast<double>(step))},
          {"0.bias", Tensor::full({3}, -1.0)},
          {"1.running_mean", Tensor::full({2}, 2.0, DType::f64)},
          {"1.num_batches_tracked", Tensor::full({}, static_cast<double>(step), DType::i64)}};
}

TensorMap optimizer_at(int64_t step) {
  return {{"momentum.0", Tensor::full({3, 4}, 0.25 * static_cast<double>(step))}};
}

void corrupt_byte(const std::string& path, std::streamoff at) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(at);
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(at);
  f.write(&c, 1);
}

TEST(Checkpoint, RoundTripKeepsTensorsAndState) {
  CheckpointStore store(fresh_dir("roundtrip"), 0);
  const std::string path = store.save(state_at(23), model_at(23), optimizer_at(23));
  const Checkpoint c = CheckpointStore::load(path);
  EXPECT_EQ(c.state.step, 23);
  EXPECT_EQ(c.state.epoch, 2);
  EXPECT_EQ(c.state.batch, 3);
  EXPECT_EQ(c.state.seed, 7u);
  EXPECT_EQ(c.state.world_size, 2);
  EXPECT_EQ(c.state.config_hash, "abc123");
  ASSERT_EQ(c.model.size(), 4u);
  for (const auto& [name, t] : model_at(23)) {
    EXPECT_EQ(c.model.at(name).shape(), t.shape()) << name;
    EXPECT_EQ(c.model.at(name).dtype(), t.dtype()) << name;
    EXPECT_EQ(c.model.at(name).to_vector(), t.to_vector()) << name;
  }
  ASSERT_EQ(c.optimizer.size(), 1u);
  EXPECT_EQ(c.optimizer.at("momentum.0").to_vector(), std::vector<double>(12, 0.25 * 23));
  // The tensors file path loads the same checkpoint; nothing temporary is left behind.
  EXPECT_EQ(CheckpointStore::load(fs::path(path).replace_extension(".safetensors")).state.step, 23);
  for (const auto& e : fs::directory_iterator(store.dir()))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
}

// A stateful schedule's state (plateau: best loss, bad count, reductions) comes back,
// infinity included (the best loss before the first evaluation; JSON writes it as null).
TEST(Checkpoint, ScheduleStateRoundTripsIncludingInfinity) {
  CheckpointStore store(fresh_dir("schedule"), 0);
  TrainingState state = state_at(7);
  state.lr_schedule = {std::numeric_limits<double>::infinity(), 2, 1};
  const Checkpoint c = CheckpointStore::load(store.save(state, model_at(7), optimizer_at(7)));
  EXPECT_EQ(c.state.lr_schedule, state.lr_schedule);
  const Checkpoint none =
      CheckpointStore::load(store.save(state_at(8), model_at(8), optimizer_at(8)));
  EXPECT_TRUE(none.state.lr_schedule.empty());
}

TEST(Checkpoint, AnIndependentReaderReadsTheTensorsFile) {
  CheckpointStore store(fresh_dir("reader"), 0);
  const std::string json = store.save(state_at(5), model_at(5), optimizer_at(5));
  const std::string tensors = fs::path(json).replace_extension(".safetensors").string();
  const auto r = testing::run_command("/usr/bin/python3 " + std::string(TIDE_SOURCE_DIR) +
                                      "/tests/session/read_safetensors.py " + tensors);
  ASSERT_EQ(r.status, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["metadata"]["format"], "tide-checkpoint");
  EXPECT_EQ(j["metadata"]["step"], "5");
  const auto& t = j["tensors"];
  ASSERT_EQ(t.size(), 5u);  // 4 model tensors under their own names, 1 optimizer tensor
  EXPECT_EQ(t["0.weight"]["dtype"], "F32");
  EXPECT_EQ(t["0.weight"]["shape"], nlohmann::json::array({3, 4}));
  EXPECT_DOUBLE_EQ(t["0.weight"]["sum"].get<double>(), 12 * 2.5);
  EXPECT_DOUBLE_EQ(t["0.bias"]["sum"].get<double>(), -3.0);
  EXPECT_EQ(t["1.running_mean"]["dtype"], "F64");
  EXPECT_EQ(t["1.num_batches_tracked"]["dtype"], "I64");
  EXPECT_EQ(t["1.num_batches_tracked"]["shape"], nlohmann::json::array());
  EXPECT_DOUBLE_EQ(t["optimizer.momentum.0"]["sum"].get<double>(), 12 * 1.25);
}

TEST(Checkpoint, KeepsTheNewestK) {
  CheckpointStore store(fresh_dir("keep"), 2);
  for (int64_t step : {10, 20, 30, 40})
    store.save(state_at(step), model_at(step), optimizer_at(step));
  const std::vector<std::string> left = store.list();
  ASSERT_EQ(left.size(), 2u);
  EXPECT_THAT(left[0], HasSubstr("step-00000040.json"));
  EXPECT_THAT(left[1], HasSubstr("step-00000030.json"));
  int files = 0;
  for (const auto& e : fs::directory_iterator(store.dir())) files += e.is_regular_file();
  EXPECT_EQ(files, 4);  // two JSON files and their tensors
}

TEST(Checkpoint, ACorruptOrTruncatedNewestFallsBackToThePreviousByName) {
  CheckpointStore store(fresh_dir("corrupt"), 0);
  for (int64_t step : {10, 20, 30}) store.save(state_at(step), model_at(step), optimizer_at(step));
  const std::string dir = store.dir();
  corrupt_byte(dir + "/step-00000030.safetensors", 200);     // a flipped bit in the data
  fs::resize_file(dir + "/step-00000020.safetensors", 100);  // a torn write
  ::testing::internal::CaptureStderr();
  const std::optional<Checkpoint> c = store.load_newest();
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->state.step, 10);
  EXPECT_EQ(c->model.at("0.weight").to_vector(), std::vector<double>(12, 5.0));
  EXPECT_THAT(log, HasSubstr("step-00000030.safetensors: CRC-32"));
  EXPECT_THAT(log, HasSubstr("(corrupt)"));
  EXPECT_THAT(log, HasSubstr("step-00000020.safetensors: 100 bytes, expected"));
  EXPECT_THAT(log, HasSubstr("(truncated?)"));
  // Loading a named checkpoint that is bad is an error naming it.
  EXPECT_THAT(error_of([&] { CheckpointStore::load(dir + "/step-00000030.json"); }),
              HasSubstr("step-00000030.safetensors: CRC-32"));
  // A JSON that is not one.
  std::ofstream(dir + "/step-00000040.json") << "{not json";
  EXPECT_THAT(error_of([&] { CheckpointStore::load(dir + "/step-00000040.json"); }),
              HasSubstr("step-00000040.json: not a checkpoint's JSON"));
  // None good: nothing to resume from.
  fs::remove(dir + "/step-00000010.safetensors");
  ::testing::internal::CaptureStderr();
  EXPECT_FALSE(store.load_newest().has_value());
  ::testing::internal::GetCapturedStderr();
}

TEST(Checkpoint, AFailedWriteLeavesTheEarlierCheckpointsAndNoTemporaryFile) {
  CheckpointStore store(fresh_dir("full"), 2);
  store.save(state_at(10), model_at(10), optimizer_at(10));
  // A file-size limit makes the next write fail part-way (EFBIG), as a full disk would.
  auto previous = std::signal(SIGXFSZ, SIG_IGN);
  rlimit old{};
  getrlimit(RLIMIT_FSIZE, &old);
  rlimit small = old;
  small.rlim_cur = 256;
  setrlimit(RLIMIT_FSIZE, &small);
  TensorMap big = model_at(20);
  big["0.weight"] = Tensor::full({1000}, 1.0);
  const std::string message = error_of([&] { store.save(state_at(20), big, optimizer_at(20)); });
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, previous);
  EXPECT_THAT(message, HasSubstr("step-00000020.safetensors: write failed after"));
  EXPECT_THAT(message, HasSubstr("File too large"));
  for (const auto& e : fs::directory_iterator(store.dir()))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
  const std::vector<std::string> left = store.list();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(CheckpointStore::load(left[0]).state.step, 10);
}

std::string write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// A stray file named like a newer checkpoint (garbage) is neither kept in place of the real
// ones nor deleted: rotation counts and removes only checkpoints older than the one it has
// just written and read back.
TEST(Checkpoint, RotationNeverTrustsAFileItCannotVerify) {
  CheckpointStore store(fresh_dir("junk"), 1);
  fs::create_directories(store.dir());
  const std::string junk = write_text(store.dir() + "/step-99999999.json", "garbage");
  const std::string old_junk = write_text(store.dir() + "/step-00000001.json", "{}");
  for (int64_t step : {2, 4}) store.save(state_at(step), model_at(step), optimizer_at(step));
  EXPECT_TRUE(fs::exists(junk));
  EXPECT_TRUE(fs::exists(old_junk));
  EXPECT_TRUE(fs::exists(store.dir() + "/step-00000004.safetensors"));
  EXPECT_FALSE(fs::exists(store.dir() + "/step-00000002.json"));  // older than verified step 4
  ::testing::internal::CaptureStderr();
  const std::optional<Checkpoint> c = store.load_newest();
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), HasSubstr("skipping checkpoint " + junk));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->state.step, 4);

  // With keep 2, a damaged older checkpoint does not count as one of the two.
  CheckpointStore two(fresh_dir("junk2"), 2);
  for (int64_t step : {10, 20}) two.save(state_at(step), model_at(step), optimizer_at(step));
  fs::resize_file(two.dir() + "/step-00000020.safetensors", 10);
  two.save(state_at(30), model_at(30), optimizer_at(30));
  EXPECT_TRUE(fs::exists(two.dir() + "/step-00000010.json"));
  EXPECT_TRUE(fs::exists(two.dir() + "/step-00000020.json"));  // damaged: left for a person
  two.save(state_at(40), model_at(40), optimizer_at(40));
  EXPECT_FALSE(fs::exists(two.dir() + "/step-00000010.json"));
  EXPECT_TRUE(fs::exists(two.dir() + "/step-00000030.json"));
}

// Resuming from step 2 of a run that went on to step 6: the new step 4 is kept and step 6
// (the abandoned timeline) moves aside, whole, so `--resume auto` continues the new run.
TEST(Checkpoint, ANewTimelineSetsTheLaterCheckpointsAside) {
  const std::string dir = fresh_dir("timeline");
  CheckpointStore first(dir, 0);
  for (int64_t step : {2, 4, 6}) first.save(state_at(step), model_at(step), optimizer_at(step));
  CheckpointStore resumed(dir, 1);
  resumed.begin_timeline(2);
  ::testing::internal::CaptureStderr();
  TensorMap other = model_at(4);
  other["0.bias"] = Tensor::full({3}, 9.0);
  resumed.save(state_at(4), other, optimizer_at(4));
  EXPECT_THAT(::testing::internal::GetCapturedStderr(),
              HasSubstr("this run continues from step 2: 2 later checkpoints of another run were "
                        "moved to " +
                        dir + "/superseded/"));
  const std::vector<std::string> left = resumed.list();
  ASSERT_EQ(left.size(), 1u);
  const Checkpoint c = CheckpointStore::load(left[0]);
  EXPECT_EQ(c.state.step, 4);
  EXPECT_EQ(c.model.at("0.bias").to_vector(), std::vector<double>(3, 9.0));
  // The abandoned checkpoints are whole in superseded/<time>/ and still load.
  std::vector<int64_t> moved;
  for (const auto& e : fs::recursive_directory_iterator(dir + "/superseded"))
    if (e.path().extension() == ".json")
      moved.push_back(CheckpointStore::load(e.path()).state.step);
  std::sort(moved.begin(), moved.end());
  EXPECT_EQ(moved, (std::vector<int64_t>{4, 6}));
  // Only the first save of a run moves anything.
  resumed.save(state_at(6), model_at(6), optimizer_at(6));
  EXPECT_EQ(resumed.list().size(), 1u);
  EXPECT_EQ(CheckpointStore::load(resumed.list()[0]).state.step, 6);
}

// A valid checkpoint whose JSON field is replaced by `value` (raw JSON text).
std::string with_field(const std::string& name, const std::string& key, const std::string& value) {
  CheckpointStore store(fresh_dir(name), 0);
  const std::string json = store.save(state_at(5), model_at(5), optimizer_at(5));
  nlohmann::json j = nlohmann::json::parse(std::ifstream(json));
  j[key] = nlohmann::json::parse(value);
  write_text(json, j.dump());
  return json;
}

TEST(Checkpoint, HostileStateFilesAreRefusedByName) {
  const struct {
    const char* key;
    const char* value;
    const char* message;
  } cases[] = {
      {"tensors", "\"/dev/zero\"", "expected the name of a .safetensors file beside it"},
      {"tensors", "\"../step-00000005.safetensors\"", "beside it"},
      {"tensors", "\"\"", "beside it"},
      {"step", "-3", "step -3, epoch 0 and batch 5 must be >= 0"},
      {"step", "2.5", "\"step\" is 2.5; expected an integer from"},
      {"step", "18446744073709551615", "\"step\" is 18446744073709551615; expected an integer"},
      {"epoch", "-1", "must be >= 0"},
      {"world_size", "0", "world_size 0 must be a positive rank count"},
      {"world_size", "99999999999", "expected an integer from -2147483648 to 2147483647"},
      {"tensors_bytes", "-1", "\"tensors_bytes\" is -1; expected an integer from 0 to"},
      {"tensors_crc32", "4294967296", "expected an integer from 0 to 4294967295"},
      {"lr_schedule", "[\"x\"]", "lr_schedule holds \"x\""},
      {"seed", "\"seven\"", "\"seed\" is \"seven\"; expected an integer"},
      {"config_hash", "7", "a field is missing or malformed"},
      {"format", "2", "checkpoint format 2 (expected 1)"},
  };
  int i = 0;
  for (const auto& c : cases) {
    const std::string json = with_field("hostile" + std::to_string(i++), c.key, c.value);
    const std::string message = error_of([&] { CheckpointStore::load(json); });
    EXPECT_THAT(message, HasSubstr(json + ": ")) << c.key << " = " << c.value;
    EXPECT_THAT(message, HasSubstr(c.message)) << c.key << " = " << c.value;
  }
  // A directory, a device or an oversized file where the JSON should be.
  const std::string dir = fresh_dir("shapes");
  fs::create_directories(dir + "/step-00000001.json");
  EXPECT_THAT(error_of([&] { CheckpointStore::load(dir + "/step-00000001.json"); }),
              HasSubstr("step-00000001.json: is a directory; expected a regular file"));
  EXPECT_THAT(error_of([&] { CheckpointStore::load("/dev/zero"); }),
              HasSubstr("/dev/zero: is a device; expected a regular file"));
  write_text(dir + "/step-00000002.json", std::string(2 << 20, ' '));
  EXPECT_THAT(error_of([&] { CheckpointStore::load(dir + "/step-00000002.json"); }),
              HasSubstr("more than the 1048576 bytes a checkpoint's JSON may hold"));
  EXPECT_THAT(error_of([&] { CheckpointStore::load(write_text(dir + "/x.json", "[1]")); }),
              HasSubstr("expected an object, found array"));
  // The tensors file a directory, or larger than the JSON says: refused before it is read.
  const std::string json = with_field("bigtensors", "tensors_bytes", "16");
  EXPECT_THAT(error_of([&] { CheckpointStore::load(json); }),
              HasSubstr("more than the 16 bytes its checkpoint's JSON says it may hold"));
  const std::string moved = fs::path(json).replace_extension(".safetensors").string();
  fs::remove(moved);
  fs::create_directories(moved);
  EXPECT_THAT(error_of([&] { CheckpointStore::load(json); }),
              HasSubstr(moved + ": is a directory"));
}

// A checkpoint whose CRC vouches for NaN weights is refused naming the tensor; resuming
// falls back to the one before.
TEST(Checkpoint, NonFiniteValuesAreRefusedEvenWithAValidChecksum) {
  CheckpointStore store(fresh_dir("nan"), 0);
  store.save(state_at(1), model_at(1), optimizer_at(1));
  TensorMap bad = model_at(2);
  bad["0.weight"].data<float>()[5] = std::numeric_limits<float>::quiet_NaN();
  bad["0.weight"].data<float>()[7] = std::numeric_limits<float>::infinity();
  const std::string json = store.save(state_at(2), bad, optimizer_at(2));
  EXPECT_THAT(error_of([&] { CheckpointStore::load(json); }),
              HasSubstr("step-00000002.safetensors: tensor '0.weight' f32[3, 4] holds 2 "
                        "non-finite values (the first, nan, at element 5)"));
  TensorMap bad_momentum = optimizer_at(3);
  bad_momentum["momentum.0"].data<float>()[0] = -std::numeric_limits<float>::infinity();
  EXPECT_THAT(
      error_of([&] { CheckpointStore::load(store.save(state_at(3), model_at(3), bad_momentum)); }),
      HasSubstr("tensor 'optimizer.momentum.0' f32[3, 4] holds 1 non-finite value"));
  ::testing::internal::CaptureStderr();
  const std::optional<Checkpoint> c = store.load_newest();
  ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->state.step, 1);
}

}  // namespace
}  // namespace tide
