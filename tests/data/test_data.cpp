// The data layer: IDX files, samplers, the prefetching loader, MNIST loading.
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"

#include "tide/data/idx.hpp"
#include "tide/data/loader.hpp"
#include "tide/data/mnist.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using tide::testing::error_of;
using tide::testing::idx_bytes;
using tide::testing::write_bytes;

std::string temp_path(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / "tide_data_test";
  fs::create_directories(dir);
  return (dir / name).string();
}

void write_gzip(const std::string& path, const std::vector<uint8_t>& b) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, b.data(), static_cast<unsigned>(b.size()));
  gzclose(f);
}

TEST(Idx, ReadsPlainAndGzip) {
  std::vector<uint8_t> payload(2 * 3 * 4);
  std::iota(payload.begin(), payload.end(), 0);
  const auto bytes = idx_bytes({2, 3, 4}, payload);
  write_bytes(temp_path("a.idx"), bytes);
  write_gzip(temp_path("a.idx.gz"), bytes);
  for (const char* name : {"a.idx", "a.idx.gz"}) {
    const IdxArray a = read_idx(temp_path(name));
    EXPECT_EQ(a.dims, (std::vector<int64_t>{2, 3, 4})) << name;
    EXPECT_EQ(a.data, payload) << name;
  }
}

TEST(Idx, ErrorsNameTheFileAndTheProblem) {
  auto bytes = idx_bytes({5}, {1, 2, 3, 4, 5});
  bytes[0] = 0x1f;
  write_bytes(temp_path("magic.idx"), bytes);
  EXPECT_THAT(error_of([] { read_idx(temp_path("magic.idx")); }),
              HasSubstr("magic.idx: not an IDX file: magic number 0x1f000801"));

  bytes = idx_bytes({5}, {1, 2, 3, 4, 5});
  bytes[2] = 0x0D;
  write_bytes(temp_path("type.idx"), bytes);
  EXPECT_THAT(error_of([] { read_idx(temp_path("type.idx")); }), HasSubstr("element type 0x0d"));

  write_bytes(temp_path("short_data.idx"), idx_bytes({5}, {1, 2, 3}));
  EXPECT_THAT(
      error_of([] { read_idx(temp_path("short_data.idx")); }),
      HasSubstr("short_data.idx: truncated: expected 5 data bytes after the header, found 3"));

  write_bytes(temp_path("short_header.idx"), {0, 0, 8, 3, 0, 0});
  EXPECT_THAT(error_of([] { read_idx(temp_path("short_header.idx")); }),
              HasSubstr("truncated header"));

  write_gzip(temp_path("short.idx.gz"), idx_bytes({100}, std::vector<uint8_t>(40)));
  EXPECT_THAT(error_of([] { read_idx(temp_path("short.idx.gz")); }),
              HasSubstr("short.idx.gz: truncated"));

  EXPECT_THAT(error_of([] { read_idx(temp_path("none.idx")); }),
              HasSubstr("none.idx: cannot open"));
}

TEST(Sampler, ShuffleIsAPermutationFixedBySeedAndEpoch) {
  const ShuffledSampler s(1000, 7);
  const auto e0 = s.epoch_indices(0);
  std::vector<int64_t> sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, SequentialSampler(1000).epoch_indices(0));
  EXPECT_EQ(e0, ShuffledSampler(1000, 7).epoch_indices(0));
  EXPECT_NE(e0, s.epoch_indices(1));
  EXPECT_NE(e0, ShuffledSampler(1000, 8).epoch_indices(0));
  EXPECT_NE(e0, sorted);
}

// A dataset whose example i has input i and label i, to see which examples a batch holds.
std::shared_ptr<TensorDataset> counting(int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  std::vector<int64_t> y(static_cast<size_t>(n));
  std::iota(x.begin(), x.end(), 0.0f);
  std::iota(y.begin(), y.end(), 0);
  return std::make_shared<TensorDataset>(Tensor::from<float>({n, 1}, x),
                                         Tensor::from<int64_t>({n}, y));
}

std::vector<std::vector<int64_t>> epoch(DataLoader& l, int64_t e, int64_t first = 0) {
  l.start_epoch(e, first);
  std::vector<std::vector<int64_t>> out;
  while (auto b = l.next()) {
    EXPECT_EQ(b->inputs.dim(0), b->targets.dim(0));
    std::vector<int64_t> ids;
    for (double v : b->targets.to_vector()) ids.push_back(static_cast<int64_t>(v));
    EXPECT_EQ(b->inputs.to_vector(), std::vector<double>(ids.begin(), ids.end()));
    out.push_back(ids);
  }
  return out;
}

TEST(Loader, EveryExampleOncePerEpochWithAPartialLastBatch) {
  DataLoader l(counting(103), LoaderOptions{.batch_size = 10, .seed = 3});
  EXPECT_EQ(l.batches_per_epoch(), 11);
  const auto batches = epoch(l, 0);
  ASSERT_EQ(batches.size(), 11u);
  EXPECT_EQ(batches.back().size(), 3u);
  std::set<int64_t> seen;
  for (const auto& b : batches) seen.insert(b.begin(), b.end());
  EXPECT_EQ(seen.size(), 103u);
  EXPECT_NE(epoch(l, 1), batches);
}

TEST(Loader, DropLast) {
  DataLoader l(counting(103), LoaderOptions{.batch_size = 10, .drop_last = true});
  EXPECT_EQ(l.batches_per_epoch(), 10);
  EXPECT_EQ(epoch(l, 0).size(), 10u);
}

TEST(Loader, PrefetchDepthDoesNotChangeBatches) {
  auto data = counting(57);
  DataLoader a(data, LoaderOptions{.batch_size = 8, .seed = 1, .prefetch = 0});
  DataLoader b(data, LoaderOptions{.batch_size = 8, .seed = 1, .prefetch = 3});
  EXPECT_EQ(epoch(a, 2), epoch(b, 2));
}

TEST(Loader, StartingMidEpochGivesTheTail) {
  DataLoader l(counting(50), LoaderOptions{.batch_size = 7, .seed = 9});
  const auto full = epoch(l, 4);
  const auto tail = epoch(l, 4, 3);
  EXPECT_EQ(tail, std::vector<std::vector<int64_t>>(full.begin() + 3, full.end()));
  l.start_epoch(4);
  l.next();  // abandon an epoch half-way: the worker must stop cleanly
  EXPECT_EQ(epoch(l, 4), full);
}

class FailingDataset : public Dataset {
 public:
  int64_t size() const override { return 20; }
  Shape sample_shape() const override { return {1}; }
  Batch get_batch(std::span<const int64_t> idx) const override {
    TIDE_CHECK(idx[0] < 10, "example {} is unreadable", idx[0]);
    return counting(20)->get_batch(idx);
  }
};

TEST(Loader, ErrorsOfTheWorkerSurfaceInNext) {
  DataLoader l(std::make_shared<FailingDataset>(),
               LoaderOptions{.batch_size = 5, .shuffle = false});
  l.start_epoch(0);
  EXPECT_TRUE(l.next().has_value());
  EXPECT_TRUE(l.next().has_value());
  EXPECT_THAT(error_of([&] { l.next(); }), HasSubstr("example 10 is unreadable"));
  EXPECT_FALSE(l.next().has_value());
}

TEST(Loader, RejectsNonPositiveBatchSize) {
  EXPECT_THAT(error_of([] { DataLoader(counting(5), LoaderOptions{.batch_size = 0}); }),
              HasSubstr("batch size must be positive, got 0"));
}

TEST(Mnist, MissingDirectorySaysHowToInstall) {
  EXPECT_THAT(error_of([] { load_mnist("fashion-mnist", "/nonexistent", Split::train); }),
              HasSubstr("apt-get install dataset-fashion-mnist"));
  EXPECT_THAT(error_of([] { load_mnist("mnist", "/nonexistent", Split::test); }),
              HasSubstr("--data-dir"));
}

TEST(Mnist, LabelOutOfRangeNamesFileAndExample) {
  const std::string dir = temp_path("bad_labels");
  fs::create_directories(dir);
  write_bytes(dir + "/t10k-images-idx3-ubyte", idx_bytes({3, 2, 2}, std::vector<uint8_t>(12)));
  write_bytes(dir + "/t10k-labels-idx1-ubyte", idx_bytes({3}, {1, 12, 3}));
  EXPECT_THAT(error_of([&] { load_mnist("mnist", dir, Split::test); }),
              HasSubstr("label 12 of example 1"));
}

TEST(Mnist, FashionMnistAsInstalled) {
  const std::string dir = default_data_dir("fashion-mnist");
  if (!fs::exists(dir)) GTEST_SKIP() << dir << " is not installed (scripts/setup installs it)";
  const TensorDataset train = load_mnist("fashion-mnist", dir, Split::train);
  EXPECT_EQ(train.size(), 60000);
  EXPECT_EQ(train.sample_shape(), Shape({1, 28, 28}));
  std::vector<int> per_class(10);
  for (double y : train.targets().to_vector()) ++per_class[static_cast<size_t>(y)];
  EXPECT_EQ(per_class, std::vector<int>(10, 6000));
  const auto x = train.inputs().to_vector();
  double s = 0, ss = 0;
  for (double v : x) s += v, ss += v * v;
  const double mean = s / static_cast<double>(x.size());
  EXPECT_NEAR(mean, 0.0, 0.01);
  EXPECT_NEAR(std::sqrt(ss / static_cast<double>(x.size()) - mean * mean), 1.0, 0.02);
  EXPECT_EQ(load_mnist("fashion-mnist", dir, Split::test).size(), 10000);
}

}  // namespace
}  // namespace tide
