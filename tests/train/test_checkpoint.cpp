// Checkpoints: the round trip, the format read by an independent reader, keeping the newest
// K, falling back from a corrupt or truncated newest one, and a failed write that leaves the
// earlier checkpoints intact.
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <limits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/testing.hpp"
#include "tide/train/checkpoint.hpp"

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
  const CheckpointStore store(fresh_dir("roundtrip"), 0);
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
  const CheckpointStore store(fresh_dir("schedule"), 0);
  TrainingState state = state_at(7);
  state.lr_schedule = {std::numeric_limits<double>::infinity(), 2, 1};
  const Checkpoint c = CheckpointStore::load(store.save(state, model_at(7), optimizer_at(7)));
  EXPECT_EQ(c.state.lr_schedule, state.lr_schedule);
  const Checkpoint none =
      CheckpointStore::load(store.save(state_at(8), model_at(8), optimizer_at(8)));
  EXPECT_TRUE(none.state.lr_schedule.empty());
}

TEST(Checkpoint, AnIndependentReaderReadsTheTensorsFile) {
  const CheckpointStore store(fresh_dir("reader"), 0);
  const std::string json = store.save(state_at(5), model_at(5), optimizer_at(5));
  const std::string tensors = fs::path(json).replace_extension(".safetensors").string();
  const auto r = testing::run_command("/usr/bin/python3 " + std::string(TIDE_SOURCE_DIR) +
                                      "/tests/train/read_safetensors.py " + tensors);
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
  const CheckpointStore store(fresh_dir("keep"), 2);
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
  const CheckpointStore store(fresh_dir("corrupt"), 0);
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
  const CheckpointStore store(fresh_dir("full"), 2);
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

}  // namespace
}  // namespace tide
