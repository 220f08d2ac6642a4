// NumPy .npy and safetensors arrays, mapped: every element type against the values NumPy and
// PyTorch wrote (tests/fixtures/arrays, by generate.py), and every malformed file named with
// what was expected.
#include <cstring>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"

#include "tide/data/arrays.hpp"
#include "tide/tensor/safetensors.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using tide::testing::error_of;

const std::string kFixtures = std::string(TIDE_SOURCE_DIR) + "/tests/fixtures/arrays/";

std::vector<double> values_of(const MappedArray& a) {
  std::vector<double> v(static_cast<size_t>(a.shape.numel()));
  a.convert(v.data(), 0, a.shape.numel());
  return v;
}

std::vector<double> values_of(const Tensor& t) {
  return {t.data<double>(), t.data<double>() + t.numel()};
}

TEST(Arrays, EveryNumpyElementTypeReadsAsNumpyWroteIt) {
  const TensorMap expected = load_safetensors(kFixtures + "expected.safetensors");
  for (const char* code :
       {"f2", "f4", "f8", "b1", "u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "v2"}) {
    const MappedArray a = open_npy(kFixtures + code + ".npy");
    EXPECT_EQ(a.shape, Shape({3, 4})) << code;
    EXPECT_EQ(a.rows(), 3);
    EXPECT_EQ(a.row_elements(), 4);
    EXPECT_EQ(values_of(a), values_of(expected.at(code))) << code;
  }
  EXPECT_EQ(open_npy(kFixtures + "u1.npy").type, ElementType::u8);
  EXPECT_EQ(open_npy(kFixtures + "f2.npy").type, ElementType::f16);
}

TEST(Arrays, SafetensorsOfTypesNumpyLacksReadAsPyTorchWroteThem) {
  const TensorMap expected = load_safetensors(kFixtures + "expected.safetensors");
  const auto arrays = open_safetensors_arrays(kFixtures + "mixed.safetensors");
  ASSERT_EQ(arrays.size(), 4u);
  for (const auto& [name, a] : arrays) {
    EXPECT_EQ(a.shape, Shape({3, 4})) << name;
    EXPECT_EQ(values_of(a), values_of(expected.at("mixed_" + name))) << name;
  }
  EXPECT_EQ(arrays.at("bf16").type, ElementType::bf16);
  EXPECT_THAT(arrays.at("i32").source, HasSubstr("tensor 'i32'"));
}

TEST(Arrays, ADatasetGathersRowsAsFloatsWithTheirTargets) {
  const MappedArray x = open_npy(kFixtures + "i2.npy");  // (3, 4): (row - 6... ) * 5000
  const ArrayDataset d(x, 1, 3, Tensor::from<int64_t>({2}, {7, 9}));
  EXPECT_EQ(d.size(), 2);
  EXPECT_EQ(d.sample_shape(), Shape({4}));
  const std::vector<int64_t> rows = {1, 0, 1};
  const Batch b = d.get_batch(rows);
  ASSERT_EQ(b.inputs.shape(), Shape({3, 4}));
  EXPECT_EQ(b.inputs.dtype(), DType::f32);
  EXPECT_EQ(b.inputs.data<float>()[0], (8 - 6) * 5000.0f);  // file row 2, element 0
  EXPECT_EQ(b.inputs.data<float>()[4], (4 - 6) * 5000.0f);  // file row 1
  EXPECT_EQ(std::vector<int64_t>(b.targets.data<int64_t>(), b.targets.data<int64_t>() + 3),
            (std::vector<int64_t>{9, 7, 9}));
  const std::vector<int64_t> outside = {2};
  EXPECT_THAT(error_of([&] { d.get_batch(outside); }), HasSubstr("outside the dataset of 2"));
}

// A .npy file of `header` (a version-1 header padded as NumPy pads it) and `data` bytes.
std::string npy(const std::string& header, size_t data_bytes, uint8_t major = 1) {
  std::string h = header;
  const size_t prefix = major == 1 ? 10 : 12;
  h.append((64 - (prefix + h.size() + 1) % 64) % 64, ' ');
  h += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  const uint32_t n = static_cast<uint32_t>(h.size());
  out.append(reinterpret_cast<const char*>(&n), major == 1 ? 2 : 4);
  return out + h + std::string(data_bytes, '\0');
}

std::string write_file(const std::string& name, const std::string& bytes) {
  const fs::path dir = fs::path(::testing::TempDir()) / "tide_arrays_test";
  fs::create_directories(dir);
  const std::string path = (dir / name).string();
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::string npy_error(const std::string& bytes) {
  const std::string path = write_file("bad.npy", bytes);
  return error_of([&] { open_npy(path); });
}

const char* const kGood = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";

TEST(Arrays, AWellFormedHandWrittenFileReads) {
  const std::string path = write_file("good.npy", npy(kGood, 48));
  EXPECT_EQ(open_npy(path).shape, Shape({3, 4}));
  EXPECT_EQ(open_npy(write_file("v3.npy", npy(kGood, 48, 3))).shape, Shape({3, 4}));
}

// Ten kinds of malformed .npy file, each one clear error naming the file.
TEST(Arrays, MalformedNpyFilesAreOneClearErrorEach) {
  const std::string good = npy(kGood, 48);
  EXPECT_THAT(npy_error("PK\x03\x04 a zip file, not npy"),
              AllOf(HasSubstr("bad.npy"), HasSubstr("not a NumPy .npy file")));
  std::string v9 = good;
  v9[6] = 9;
  EXPECT_THAT(npy_error(v9), HasSubstr("byte 6: .npy format version 9.0; tide reads 1 to 3"));
  EXPECT_THAT(npy_error(good.substr(0, 60)), HasSubstr("runs past the end of the 60-byte file"));
  EXPECT_THAT(npy_error(npy("['descr', '<f4']", 48)),
              HasSubstr("byte 10: expected the header's opening '{', got '['descr'"));
  EXPECT_THAT(npy_error(npy("{'descr': '<f4', 'shape': (3, 4), }", 48)),
              HasSubstr("the header lacks fortran_order"));
  EXPECT_THAT(npy_error(npy("{'descr': '|O', 'fortran_order': False, 'shape': (3,), }", 24)),
              HasSubstr("element type '|O' is not a number tide reads"));
  EXPECT_THAT(npy_error(npy("{'descr': '>f8', 'fortran_order': False, 'shape': (3,), }", 24)),
              HasSubstr("'>f8' is big-endian; save with .astype('<f8')"));
  EXPECT_THAT(
      npy_error(npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }", 12)),
      HasSubstr("structured arrays are not read"));
  EXPECT_THAT(npy_error(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (3, 4), }", 48)),
              HasSubstr("Fortran (column-major) order; save np.ascontiguousarray(a)"));
  EXPECT_THAT(npy_error(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, -4), }", 48)),
              HasSubstr("the shape holds '-4), }"));
  EXPECT_THAT(npy_error(npy(kGood, 47)),
              HasSubstr("an array of [3, 4] <f4 needs 48 data bytes; the file holds 47"));
  EXPECT_THAT(npy_error(npy(kGood, 4800)), HasSubstr("needs 48 data bytes; the file holds 4800"));
  EXPECT_THAT(npy_error(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, "
                            "4294967296, 4294967296), }",
                            8)),
              HasSubstr("too large for any file"));
  EXPECT_THAT(
      npy_error(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), 'x': 1}", 48)),
      HasSubstr("the header has key 'x'"));
  // No rows match a file of no data whatever the other sizes: those are checked on their own.
  const std::string empty = write_file(
      "empty.npy",
      npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5, 4611686018427387904), }", 0));
  EXPECT_THAT(error_of([&] { open_npy(empty).row_elements(); }),
              HasSubstr("empty.npy: a row of shape [0, 5, 4611686018427387904] holds more than "
                        "2^40 values"));
  EXPECT_THAT(npy_error(""), HasSubstr("not a NumPy .npy file"));
  EXPECT_THAT(error_of([] { open_npy(::testing::TempDir()); }), HasSubstr("is a directory"));
}

TEST(Arrays, ASafetensorsTensorOfAnUnknownDtypeIsNamed) {
  std::string header = R"({"x":{"dtype":"C64","shape":[2],"data_offsets":[0,16]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  const uint64_t n = header.size();
  std::string bytes(reinterpret_cast<const char*>(&n), 8);
  bytes += header + std::string(16, '\0');
  const std::string path = write_file("bad.safetensors", bytes);
  EXPECT_THAT(error_of([&] { open_safetensors_arrays(path); }),
              AllOf(HasSubstr("bad.safetensors"), HasSubstr("tensor 'x' has dtype C64")));
}

}  // namespace
}  // namespace tide
