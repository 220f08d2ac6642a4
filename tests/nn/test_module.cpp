// Modules: parameter naming, state dicts, initialisers, modes.
#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tide/autograd/ops.hpp"
#include "tide/nn/init.hpp"
#include "tide/nn/layers.hpp"

namespace tide {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::shared_ptr<Sequential> small_mlp(uint64_t seed) {
  RngStream rng(seed, RngPurpose::init);
  auto m = std::make_shared<Sequential>();
  m->add(std::make_shared<Flatten>());
  m->add(std::make_shared<Linear>(6, 4, rng));
  m->add(make_relu());
  m->add(std::make_shared<Linear>(4, 3, rng, /*bias=*/false));
  return m;
}

std::vector<std::string> names(const Module& m) {
  std::vector<std::string> out;
  for (const auto& [name, p] : m.named_parameters()) out.push_back(name);
  return out;
}

TEST(Module, ParametersAreNamedLikePyTorch) {
  auto m = small_mlp(0);
  EXPECT_THAT(names(*m), ElementsAre("1.weight", "1.bias", "3.weight"));
  EXPECT_EQ(m->num_parameters(), 6 * 4 + 4 + 4 * 3);
  EXPECT_THAT(m->summary(), HasSubstr("(1) Linear(6, 4)"));
  EXPECT_THAT(m->summary(), HasSubstr("Linear(4, 3, bias=false)"));
}

TEST(Module, SameSeedSameWeightsOtherSeedOther) {
  auto a = small_mlp(7), b = small_mlp(7), c = small_mlp(8);
  EXPECT_EQ(a->state_dict().at("1.weight").to_vector(), b->state_dict().at("1.weight").to_vector());
  EXPECT_NE(a->state_dict().at("1.weight").to_vector(), c->state_dict().at("1.weight").to_vector());
}

TEST(Module, StateDictRoundTripThroughSafetensors) {
  auto a = small_mlp(1), b = small_mlp(2);
  const std::string path = ::testing::TempDir() + "/state.safetensors";
  save_safetensors(path, a->state_dict());
  b->load_state_dict(load_safetensors(path));
  const Variable x(Tensor::full({2, 1, 6}, 0.5));
  EXPECT_EQ((*a)(x).value().to_vector(), (*b)(x).value().to_vector());
}

TEST(Module, LoadStateDictRejectsMismatchesAndKeepsWeights) {
  auto m = small_mlp(1);
  const auto before = m->state_dict().at("1.weight").to_vector();
  TensorMap bad = small_mlp(2)->state_dict();
  bad["1.weight"] = Tensor::zeros({4, 5});
  try {
    m->load_state_dict(bad);
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("'1.weight'"));
    EXPECT_THAT(e.what(), HasSubstr("f32[4, 5]"));
    EXPECT_THAT(e.what(), HasSubstr("f32[4, 6]"));
  }
  TensorMap missing = small_mlp(2)->state_dict();
  missing.erase("1.bias");
  missing["extra"] = Tensor::zeros({1});
  try {
    m->load_state_dict(missing);
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("missing [1.bias]"));
    EXPECT_THAT(e.what(), HasSubstr("unexpected [extra]"));
  }
  EXPECT_EQ(m->state_dict().at("1.weight").to_vector(), before);
}

TEST(Module, TrainAndEvalReachChildren) {
  auto m = small_mlp(0);
  m->eval();
  for (const auto& [name, child] : m->children()) EXPECT_FALSE(child->is_training());
  m->train();
  for (const auto& [name, child] : m->children()) EXPECT_TRUE(child->is_training());
}

TEST(Module, LinearRejectsWrongInputWidth) {
  auto m = small_mlp(0);
  EXPECT_THROW((*m)(Variable(Tensor::zeros({2, 7}))), Error);
}

// Mean and standard deviation of a tensor's values.
std::pair<double, double> moments(const Tensor& t) {
  const auto v = t.to_vector();
  double s = 0, ss = 0;
  for (double x : v) s += x, ss += x * x;
  const double mean = s / static_cast<double>(v.size());
  return {mean, std::sqrt(ss / static_cast<double>(v.size()) - mean * mean)};
}

TEST(Init, StandardDeviationsFollowTheirFormulas) {
  RngStream rng(3, RngPurpose::init);
  const int64_t fan_in = 400, fan_out = 100;
  // A uniform U(-b, b) has standard deviation b / sqrt(3).
  auto [m1, s1] = moments(kaiming_uniform({fan_out, fan_in}, fan_in, std::sqrt(2.0), rng));
  EXPECT_NEAR(s1, std::sqrt(2.0 / fan_in), 0.002);
  auto [m2, s2] = moments(kaiming_normal({fan_out, fan_in}, fan_in, std::sqrt(2.0), rng));
  EXPECT_NEAR(s2, std::sqrt(2.0 / fan_in), 0.002);
  auto [m3, s3] = moments(xavier_uniform({fan_out, fan_in}, fan_in, fan_out, 1.0, rng));
  EXPECT_NEAR(s3, std::sqrt(2.0 / (fan_in + fan_out)), 0.002);
  auto [m4, s4] = moments(xavier_normal({fan_out, fan_in}, fan_in, fan_out, 1.0, rng));
  EXPECT_NEAR(s4, std::sqrt(2.0 / (fan_in + fan_out)), 0.002);
  for (double m : {m1, m2, m3, m4}) EXPECT_NEAR(m, 0.0, 0.003);
}

TEST(Init, LinearDefaultMatchesPyTorchBounds) {
  RngStream rng(0, RngPurpose::init);
  Linear layer(256, 64, rng);
  const double bound = 1.0 / 16.0;
  for (const Tensor& t : {layer.weight().value(), layer.bias().value()}) {
    const auto v = t.to_vector();
    EXPECT_LE(*std::max_element(v.begin(), v.end()), bound);
    EXPECT_GE(*std::min_element(v.begin(), v.end()), -bound);
    EXPECT_GT(*std::max_element(v.begin(), v.end()), 0.9 * bound);
  }
}

}  // namespace
}  // namespace tide
