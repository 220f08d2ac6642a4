// The data layer: IDX files, samplers, the prefetching loader, MNIST loading.
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>

#include <fmt/ranges.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/memory.hpp"
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
using tide::testing::peak_rss_bytes;
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
  EXPECT_THAT(error_of([] { read_idx(temp_path("short_data.idx")); }),
              HasSubstr("short_data.idx: truncated: expected 5 data bytes after the header "
                        "(dimensions 5), found 3"));

  write_bytes(temp_path("short_header.idx"), {0, 0, 8, 3, 0, 0});
  EXPECT_THAT(error_of([] { read_idx(temp_path("short_header.idx")); }),
              HasSubstr("truncated header"));

  write_gzip(temp_path("short.idx.gz"), idx_bytes({100}, std::vector<uint8_t>(40)));
  EXPECT_THAT(error_of([] { read_idx(temp_path("short.idx.gz")); }),
              HasSubstr("short.idx.gz: truncated"));

  EXPECT_THAT(error_of([] { read_idx(temp_path("none.idx")); }),
              HasSubstr("none.idx: cannot open"));
}

// Every size a header can declare, plain and gzip: a file far shorter than its header says
// fails as truncated without the process ever holding the declared size.
TEST(Idx, DeclaredSizesBeyondTheDataFailWithoutAllocatingThem) {
  const int64_t before = peak_rss_bytes();
  struct Case {
    std::vector<uint32_t> dims;
    uint64_t declared;
  };
  const std::vector<Case> cases = {
      {{2500, 1000, 1000}, 2'500'000'000},    // 2,500 MB of images
      {{0xFFFFFFFF}, 0xFFFFFFFF},             // 4 G labels
      {{4, 4096, 1 << 20}, kMaxIdxBytes},     // the most a file may declare
      {{68000, 1000, 1000}, 68'000'000'000},  // 68 GB: beyond it
      {{1, 1, 1, 0x7FFFFFFF}, 0x7FFFFFFF},    // four dimensions
      {{0x10000, 0x10000, 0x10000}, uint64_t{1} << 48},
  };
  for (const Case& c : cases) {
    const auto bytes = idx_bytes(c.dims, std::vector<uint8_t>(10, 7));
    const std::string name = fmt::format("declared{}", c.declared);
    write_bytes(temp_path(name + ".idx"), bytes);
    write_gzip(temp_path(name + ".idx.gz"), bytes);
    for (const std::string& file : {name + ".idx", name + ".idx.gz"}) {
      const std::string message = error_of([&] { read_idx(temp_path(file)); });
      if (c.declared > kMaxIdxBytes) {
        EXPECT_THAT(message, HasSubstr(file + ": the header declares dimensions " +
                                       fmt::format("{}", fmt::join(c.dims, "x"))));
        EXPECT_THAT(message, HasSubstr("more than the 17179869184 bytes (16 GiB)"));
      } else {
        EXPECT_THAT(message,
                    HasSubstr(fmt::format("{}: truncated: expected {} data bytes after the header "
                                          "(dimensions {}), found 10",
                                          file, c.declared, fmt::join(c.dims, "x"))));
      }
    }
  }
  EXPECT_LT(peak_rss_bytes() - before, int64_t{64} << 20) << "peak resident memory grew";
}

TEST(Idx, DimensionsWhoseProductOverflowsAreRefusedByName) {
  // 2^32-1 to the fourth power overflows 64 bits: still one error naming the dimensions.
  write_bytes(temp_path("overflow.idx"),
              idx_bytes({0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, {}));
  EXPECT_THAT(error_of([] { read_idx(temp_path("overflow.idx")); }),
              HasSubstr("overflow.idx: the header declares dimensions "
                        "4294967295x4294967295x4294967295x4294967295"));
  write_bytes(temp_path("big.idx"), idx_bytes({70000, 1000, 1000}, {}));  // 70 GB
  EXPECT_THAT(error_of([] { read_idx(temp_path("big.idx")); }),
              HasSubstr("dimensions 70000x1000x1000 (7e+10 bytes), more than the"));
  // A zero dimension declares no data, so data after the header is an error too.
  write_bytes(temp_path("zero.idx"), idx_bytes({0, 0xFFFFFFFF}, {}));
  EXPECT_EQ(read_idx(temp_path("zero.idx")).data.size(), 0u);
  write_bytes(temp_path("long.idx"), idx_bytes({3}, {1, 2, 3, 4}));
  EXPECT_THAT(error_of([] { read_idx(temp_path("long.idx")); }),
              HasSubstr("long.idx: more data than the header declares (dimensions 3, 3 bytes)"));
  write_gzip(temp_path("long.idx.gz"), idx_bytes({3}, {1, 2, 3, 4}));
  EXPECT_THAT(error_of([] { read_idx(temp_path("long.idx.gz")); }),
              HasSubstr("long.idx.gz: more data than the header declares"));
}

// A gzip stream that does hold what it declares is read whole, however it arrives.
TEST(Idx, GzipLargerThanOneReadStepIsReadWhole) {
  std::vector<uint8_t> payload(3 << 20);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(i * 31 % 251);
  write_gzip(temp_path("three_mb.idx.gz"), idx_bytes({3, 1024, 1024}, payload));
  const IdxArray a = read_idx(temp_path("three_mb.idx.gz"));
  EXPECT_EQ(a.dims, (std::vector<int64_t>{3, 1024, 1024}));
  EXPECT_EQ(a.data, payload);
}

TEST(Idx, DirectoriesDevicesAndReadErrorsNameThePath) {
  const std::string dir = temp_path("a_directory.idx");
  fs::create_directories(dir);
  EXPECT_THAT(error_of([&] { read_idx(dir); }),
              HasSubstr("a_directory.idx: is a directory, not an IDX file"));
  EXPECT_THAT(error_of([] { read_idx("/dev/zero"); }), HasSubstr("/dev/zero: not a regular file"));
  // /proc/self/mem is a regular file whose read at offset 0 fails with EIO.
  const std::string eio = temp_path("eio.idx");
  fs::remove(eio);
  fs::create_symlink("/proc/self/mem", eio);
  EXPECT_THAT(error_of([&] { read_idx(eio); }),
              HasSubstr("eio.idx: cannot read: Input/output error"));
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

// Every rank's batches of one epoch through a DataLoader, as the ranks of a job see them.
std::vector<std::vector<std::vector<int64_t>>> rank_batches(int64_t n, int ranks, int64_t b,
                                                            int64_t e, uint64_t seed) {
  std::vector<std::vector<std::vector<int64_t>>> out;
  for (int r = 0; r < ranks; ++r) {
    DataLoader l(counting(n), std::make_shared<DistributedSampler>(n, r, ranks, b, true, seed),
                 LoaderOptions{.batch_size = b});
    out.push_back(epoch(l, e));
  }
  return out;
}

TEST(Sampler, DistributedSharesAreDisjointCoveringAndEqualInBatches) {
  for (int64_t n : {3, 7, 10, 64, 100, 1001})
    for (int ranks : {1, 2, 3, 4})
      for (int64_t b : {1, 2, 5, 16}) {
        if (n < ranks) continue;
        const auto all = rank_batches(n, ranks, b, 2, 11);
        std::multiset<int64_t> seen;
        for (const auto& batches : all) {
          EXPECT_EQ(batches.size(), all[0].size())
              << n << " examples, " << ranks << " ranks, batch " << b;
          for (const auto& batch : batches) {
            EXPECT_FALSE(batch.empty());
            EXPECT_LE(batch.size(), static_cast<size_t>(b + 1));
            seen.insert(batch.begin(), batch.end());
          }
        }
        // Disjoint and covering: every example exactly once over all ranks.
        std::multiset<int64_t> every;
        for (int64_t i = 0; i < n; ++i) every.insert(i);
        EXPECT_EQ(seen, every) << n << " examples, " << ranks << " ranks, batch " << b;
      }
}

TEST(Sampler, DistributedStepsTogetherAreTheSingleProcessBatch) {
  // 100 examples, 3 ranks of batch 8: global batches of 24; the ranks' batches of step j
  // together are batch j of one process with batch 24 (same seed and epoch).
  const auto all = rank_batches(100, 3, 8, 1, 5);
  DataLoader single(counting(100), LoaderOptions{.batch_size = 24, .seed = 5});
  const auto whole = epoch(single, 1);
  ASSERT_EQ(all[0].size(), whole.size());
  for (size_t j = 0; j < whole.size(); ++j) {
    std::vector<int64_t> together;
    for (const auto& batches : all)
      together.insert(together.end(), batches[j].begin(), batches[j].end());
    EXPECT_EQ(together, whole[j]) << "step " << j;
  }
  // One rank is the plain shuffled loader, batch for batch.
  EXPECT_EQ(rank_batches(103, 1, 10, 3, 9)[0], [] {
    DataLoader l(counting(103), LoaderOptions{.batch_size = 10, .seed = 9});
    return epoch(l, 3);
  }());
  // The order depends on the epoch and the seed.
  EXPECT_NE(rank_batches(100, 3, 8, 2, 5), all);
  EXPECT_NE(rank_batches(100, 3, 8, 1, 6), all);
}

TEST(Sampler, DistributedTailTooSmallForEveryRankJoinsThePreviousStep) {
  // 2 * 3 * 5 + 2 examples on 3 ranks of batch 5: the 2 left over cannot give each rank
  // one, so the second step carries them: 15 + 2 split as 5, 6, 6.
  const auto all = rank_batches(32, 3, 5, 0, 1);
  for (const auto& batches : all) ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(all[0][1].size() + all[1][1].size() + all[2][1].size(), 17u);
  EXPECT_THAT(error_of([] { DistributedSampler(2, 0, 3, 4, true, 0); }),
              HasSubstr("a dataset of 2 examples cannot give each of 3 ranks one"));
  EXPECT_THAT(error_of([] {
                DataLoader(counting(10), std::make_shared<DistributedSampler>(10, 0, 2, 4, true, 0),
                           LoaderOptions{.batch_size = 5});
              }),
              HasSubstr("made for batches of 4 cannot cut batches of 5"));
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

TEST(Mnist, NoImagesOrEmptyImagesNameTheFileAndTheDimensions) {
  for (const auto& [name, dims] : std::vector<std::pair<std::string, std::vector<uint32_t>>>{
           {"no_images", {0, 28, 28}}, {"empty_images", {5, 0, 0}}, {"no_rows", {5, 0, 28}}}) {
    const std::string dir = temp_path(name);
    fs::create_directories(dir);
    write_bytes(dir + "/t10k-images-idx3-ubyte", idx_bytes(dims, {}));
    write_bytes(dir + "/t10k-labels-idx1-ubyte",
                idx_bytes({dims[0]}, std::vector<uint8_t>(dims[0])));
    EXPECT_THAT(error_of([&] { load_mnist("mnist", dir, Split::test); }),
                HasSubstr(fmt::format("{}/t10k-images-idx3-ubyte: the header declares {} images "
                                      "of {}x{} pixels; expected at least one image",
                                      dir, dims[0], dims[1], dims[2])))
        << name;
  }
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
