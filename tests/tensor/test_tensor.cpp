// tensor: views and copies, conversions, and the safetensors format.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include "support/testing.hpp"

#include "tide/tensor/safetensors.hpp"

namespace tide {
namespace {

using ::testing::HasSubstr;
using tide::testing::error_of;

TEST(Tensor, ReshapeAndSliceAreViews) {
  Tensor t = Tensor::from<float>({2, 3}, {0, 1, 2, 3, 4, 5});
  Tensor r = t.reshape({3, -1});
  EXPECT_EQ(r.shape(), Shape({3, 2}));
  EXPECT_TRUE(r.same_storage(t));
  r.data<float>()[0] = 9;
  EXPECT_EQ(t.to_vector()[0], 9);
  Tensor s = t.slice(1, 2);
  EXPECT_EQ(s.to_vector(), (std::vector<double>{3, 4, 5}));
  s.data<float>()[2] = 7;
  EXPECT_EQ(t.to_vector()[5], 7);
  EXPECT_THAT(error_of([&] { t.reshape({4, 2}); }), HasSubstr("f32[2, 3] to [4, 2]"));
  EXPECT_THAT(error_of([&] { t.slice(1, 3); }), HasSubstr("out of range"));
}

TEST(Tensor, CloneAndConversionsCopy) {
  Tensor t = Tensor::from<float>({3}, {1.5f, -2.0f, 3.0f});
  Tensor c = t.clone();
  c.data<float>()[0] = 0;
  EXPECT_EQ(t.to_vector()[0], 1.5);
  EXPECT_EQ(t.to(DType::f64).to_vector(), (std::vector<double>{1.5, -2, 3}));
  EXPECT_EQ(t.to(DType::i64).to_vector(), (std::vector<double>{1, -2, 3}));
  EXPECT_EQ(Tensor::full({2}, 4.0, DType::i64).to_vector(), (std::vector<double>{4, 4}));
  EXPECT_EQ(t.str(), "f32[3]");
  EXPECT_THAT(error_of([&] { t.data<double>(); }), HasSubstr("f32[3] accessed as f64"));
  EXPECT_THAT(error_of([&] { t.item(); }), HasSubstr("exactly one element"));
  EXPECT_THAT(error_of([] { Tensor::from<float>({2, 2}, {1, 2, 3}); }), HasSubstr("3 values"));
}

std::string temp(const std::string& name) {
  return ::testing::TempDir() + "/" + name;
}

TEST(Safetensors, RoundTripKeepsDtypesShapesValuesAndMetadata) {
  const TensorMap in = {{"w", Tensor::from<float>({2, 2}, {1, 2, 3, 4})},
                        {"d", Tensor::from<double>({1}, {0.125})},
                        {"ids", Tensor::from<int64_t>({3}, {7, -1, 1LL << 40})},
                        {"step", Tensor::scalar(12.0)}};
  save_safetensors(temp("rt.safetensors"), in, {{"format", "pt"}});
  std::map<std::string, std::string> meta;
  const TensorMap out = load_safetensors(temp("rt.safetensors"), &meta);
  EXPECT_EQ(meta.at("format"), "pt");
  ASSERT_EQ(out.size(), in.size());
  for (const auto& [name, t] : in) {
    EXPECT_EQ(out.at(name).shape(), t.shape()) << name;
    EXPECT_EQ(out.at(name).dtype(), t.dtype()) << name;
    EXPECT_EQ(out.at(name).to_vector(), t.to_vector()) << name;
  }
  // The header is an 8-byte little-endian length, then JSON, as PyTorch's reader expects.
  std::ifstream f(temp("rt.safetensors"), std::ios::binary);
  uint64_t n = 0;
  f.read(reinterpret_cast<char*>(&n), 8);
  std::string header(n, '\0');
  f.read(header.data(), static_cast<std::streamsize>(n));
  const auto j = nlohmann::json::parse(header);
  EXPECT_EQ(j["w"]["dtype"], "F32");
  EXPECT_EQ(j["ids"]["shape"], nlohmann::json::array({3}));
}

void write_raw(const std::string& path, const std::string& header, size_t data_bytes) {
  std::ofstream f(path, std::ios::binary);
  const uint64_t n = header.size();
  f.write(reinterpret_cast<const char*>(&n), 8);
  f << header << std::string(data_bytes, '\0');
}

TEST(Safetensors, CorruptFilesGiveErrorsNamingTheFile) {
  const std::string p = temp("bad.safetensors");
  auto expect = [&](const std::string& needle) {
    const std::string msg = error_of([&] { load_safetensors(p); });
    EXPECT_THAT(msg, HasSubstr(p));
    EXPECT_THAT(msg, HasSubstr(needle));
  };
  std::ofstream(p) << "abc";
  expect("too short");
  write_raw(p, "{}", 0);
  std::ofstream(p, std::ios::binary | std::ios::trunc)
      .write("\xff\x00\x00\x00\x00\x00\x00\x00{}", 10);
  expect("exceeds the file size");
  write_raw(p, "{not json", 0);
  expect("JSON header");
  write_raw(p, R"({"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})", 4);
  expect("BF16");
  write_raw(p, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,80]}})", 8);
  expect("outside");
  write_raw(p, R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8);
  expect("needs 12 bytes");
  write_raw(p, R"({"a":{"dtype":"F32"}})", 8);
  expect("malformed");
  EXPECT_THAT(error_of([] { load_safetensors("/nonexistent/x.safetensors"); }),
              HasSubstr("/nonexistent/x.safetensors: cannot open"));
  // Sizes from the header are checked against the file before anything is allocated.
  write_raw(p, R"({"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}})", 8);
  expect("tensor 'a' has shape [4611686018427387904, 4], too large for any file");
  write_raw(p, R"({"a":{"dtype":"F64","shape":[1099511627776],"data_offsets":[0,8]}})", 8);
  expect("needs 8796093022208 bytes, the header gives 8");
  write_raw(p, R"({"a":{"dtype":"F32","shape":[-2,-4],"data_offsets":[0,32]}})", 32);
  expect("sizes must be >= 0");
  write_raw(p, R"({"__metadata__":{"k":3}})", 0);
  const std::string msg = error_of([&] {
    std::map<std::string, std::string> meta;
    load_safetensors(p, &meta);
  });
  EXPECT_THAT(msg, HasSubstr("__metadata__ must map names to strings"));
  EXPECT_THAT(error_of([] { load_safetensors("/dev/zero"); }), HasSubstr("is a device"));
}

TEST(Tensor, SizesThatCannotBeAllocatedAreErrorsNamingTheShape) {
  EXPECT_THAT(error_of([] {
                Tensor::empty({int64_t{1} << 61, 8}, DType::f32);
              }),
              HasSubstr("more elements than a 64-bit count holds"));
  EXPECT_THAT(error_of([] { Tensor::empty({int64_t{1} << 61}, DType::f64); }),
              HasSubstr("cannot create a f64 tensor of shape [2305843009213693952]: its byte "
                        "count overflows"));
  // 4 TiB: more than this machine has; the allocation fails cleanly.
  EXPECT_THAT(error_of([] { Tensor::empty({int64_t{1} << 40}, DType::f32); }),
              HasSubstr("cannot create a f32 tensor of shape [1099511627776]: out of memory"));
  EXPECT_THAT(error_of([] {
                Tensor::zeros({6}).reshape({int64_t{1} << 62, 4, -1});
              }),
              HasSubstr("the sizes overflow"));
}

TEST(Tensor, CheckFiniteNamesTheCountAndTheFirst) {
  Tensor t = Tensor::zeros({2, 3}, DType::f64);
  check_finite(t, "t");
  t.data<double>()[4] = -std::numeric_limits<double>::infinity();
  t.data<double>()[5] = std::nan("");
  EXPECT_THAT(error_of([&] { check_finite(t, "x.bin: tensor 'w'"); }),
              HasSubstr("x.bin: tensor 'w' f64[2, 3] holds 2 non-finite values (the first, -inf, "
                        "at element 4)"));
  check_finite(Tensor::full({3}, 1, DType::i64), "labels");
}

}  // namespace
}  // namespace tide
