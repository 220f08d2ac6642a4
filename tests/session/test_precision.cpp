// `--precision bf16` as a user runs it: one epoch of Fashion-MNIST in bf16 ends within half
// a point of f32's test accuracy (mlp, cnn) or within 5 % of its training loss (the
// transformer); a processor without native bf16 (oneDNN capped by ONEDNN_MAX_CPU_ISA) gets
// one line and an f32 run, the same bytes as asking for f32; a precision that does not exist
// is a clear error. The time-series autoencoder's bf16 run is in tests/timeseries, beside
// its PostgreSQL server; 2-rank bf16 gradients in tests/distributed; bf16 resume in
// test_resume.cpp.
#include <cmath>
#include <filesystem>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/testing.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kTide = std::string(TIDE_BINARY_DIR) + "/tide";
const std::string kFallback = "bf16: this processor has no native bf16 products";

// A directory of the running test's own: ctest runs two of this program's tests at once.
std::string fresh_dir(const std::string& name) {
  const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  const fs::path d = fs::temp_directory_path() / ("tide_precision_" + test + "_" + name);
  fs::remove_all(d);
  return d.string();
}

struct Outcome {
  double test_accuracy, train_loss;
};

// One epoch of `model` on Fashion-MNIST (the shipped file's recommended options), seed 5,
// one thread (ctest runs two tests at once on two cores), in `precision`.
Outcome one_epoch(const std::string& model, const std::string& precision) {
  const std::string dir = fresh_dir(model + "_" + precision);
  const auto r = testing::run_command(fmt::format(
      "{} train --model {} --epochs 1 --threads 1 --seed 5 --log-every 200 --precision {} "
      "--run-dir {}",
      kTide, model, precision, dir));
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr(precision == "bf16" ? "bf16 products, f32 weights" : "; f32\n"));
  const auto j = nlohmann::json::parse(testing::read_bytes(dir + "/summary.json"));
  return {j.at("test_accuracy").get<double>(), j.at("train_loss").get<double>()};
}

// Whether this processor runs bf16: the program says so when it does not. A failing probe
// is a failure, not a reason to skip.
bool bf16_here() {
  const auto r = testing::run_command(
      fmt::format("{} train --model mlp --max-steps 1 --threads 1 --precision bf16 --run-dir {}",
                  kTide, fresh_dir("probe")));
  EXPECT_EQ(r.status, 0) << r.out;
  return r.status == 0 && r.out.find(kFallback) == std::string::npos;
}

void expect_accuracy_within_half_a_point(const std::string& model) {
  if (!bf16_here()) GTEST_SKIP() << "no native bf16 here (or the probe failed, as reported)";
  const Outcome f32 = one_epoch(model, "f32"), bf16 = one_epoch(model, "bf16");
  EXPECT_NEAR(bf16.test_accuracy, f32.test_accuracy, 0.005)
      << model << ": bf16 " << bf16.test_accuracy << ", f32 " << f32.test_accuracy;
  ::testing::Test::RecordProperty("f32_accuracy", fmt::format("{:.4f}", f32.test_accuracy));
  ::testing::Test::RecordProperty("bf16_accuracy", fmt::format("{:.4f}", bf16.test_accuracy));
}

TEST(Precision, MlpOneEpochInBf16WithinHalfAPointOfF32) {
  expect_accuracy_within_half_a_point("mlp");
}

TEST(Precision, CnnOneEpochInBf16WithinHalfAPointOfF32) {
  expect_accuracy_within_half_a_point("cnn");
}

TEST(Precision, TransformerOneEpochInBf16WithinFivePercentOfF32Loss) {
  if (!bf16_here()) GTEST_SKIP() << "no native bf16 here (or the probe failed, as reported)";
  const Outcome f32 = one_epoch("transformer", "f32"), bf16 = one_epoch("transformer", "bf16");
  EXPECT_LT(std::abs(bf16.train_loss - f32.train_loss), 0.05 * f32.train_loss)
      << "bf16 " << bf16.train_loss << ", f32 " << f32.train_loss;
  ::testing::Test::RecordProperty("f32_train_loss", fmt::format("{:.4f}", f32.train_loss));
  ::testing::Test::RecordProperty("bf16_train_loss", fmt::format("{:.4f}", bf16.train_loss));
}

// oneDNN capped below AVX512_BF16: one line says so, and the run is exactly the f32 run.
TEST(Precision, WithoutNativeBf16OneLineAndTheF32Run) {
  auto capped = [](const std::string& precision) {
    const std::string dir = fresh_dir("capped_" + precision);
    const auto r = testing::run_command(fmt::format(
        "ONEDNN_MAX_CPU_ISA=AVX512_CORE {} train --model cnn --max-steps 5 --train-examples 256 "
        "--threads 1 --seed 2 --precision {} --run-dir {}",
        kTide, precision, dir));
    EXPECT_EQ(r.status, 0) << r.out;
    return std::pair{r.out, testing::read_bytes(dir + "/model.safetensors")};
  };
  const auto [out_bf16, model_bf16] = capped("bf16");
  const auto [out_f32, model_f32] = capped("f32");
  const size_t first = out_bf16.find(kFallback);
  ASSERT_NE(first, std::string::npos) << out_bf16;
  EXPECT_EQ(out_bf16.find(kFallback, first + 1), std::string::npos) << "said more than once";
  EXPECT_THAT(out_bf16, HasSubstr("AVX512_BF16 or AMX is needed), so the run computes in f32"));
  EXPECT_THAT(out_f32, Not(HasSubstr(kFallback)));
  EXPECT_FALSE(model_f32.empty());
  EXPECT_TRUE(model_bf16 == model_f32) << "the fallback is not the f32 run";
}

TEST(Precision, AnUnknownPrecisionIsAClearError) {
  const auto r = testing::run_command(fmt::format(
      "{} train --model mlp --max-steps 1 --precision f16 --run-dir {}", kTide, fresh_dir("bad")));
  EXPECT_NE(r.status, 0);
  EXPECT_THAT(r.out, HasSubstr("precision"));
  EXPECT_THAT(r.out, HasSubstr("f16"));
  EXPECT_THAT(r.out, HasSubstr("bf16"));  // what it may be
  EXPECT_THAT(r.out, Not(HasSubstr("terminate")));
}

}  // namespace
}  // namespace tide
