// The `tide` program as a user runs it: bad input gives one clear line and a non-zero exit.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

struct Result {
  int status;
  std::string out;  // stdout and stderr together
};

Result run(const std::string& args) {
  const std::string cmd = std::string(TIDE_BINARY_DIR) + "/tide " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  Result r{-1, ""};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Lines of output that are not log lines ("[   0.12s info] ...").
int error_lines(const std::string& out) {
  int n = 0;
  size_t start = 0;
  while (start < out.size()) {
    size_t end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    if (out.compare(start, 1, "[") != 0 && end > start) ++n;
    start = end + 1;
  }
  return n;
}

void expect_clear_error(const Result& r, const std::string& needle) {
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr(needle));
  EXPECT_EQ(error_lines(r.out), 1) << r.out;
}

void write_bytes(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// An IDX file: magic 0x0000 08 ndim, big-endian sizes, then `payload` bytes.
std::vector<uint8_t> idx(std::vector<uint32_t> dims, size_t payload, uint8_t type = 0x08) {
  std::vector<uint8_t> b{0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(d >> s));
  b.resize(b.size() + payload, 1);
  return b;
}

class DataDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("tide_cli_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    write_bytes(dir_ / "train-images-idx3-ubyte", idx({100, 28, 28}, 100 * 784));
    write_bytes(dir_ / "train-labels-idx1-ubyte", idx({100}, 100));
    write_bytes(dir_ / "t10k-images-idx3-ubyte", idx({20, 28, 28}, 20 * 784));
    write_bytes(dir_ / "t10k-labels-idx1-ubyte", idx({20}, 20));
  }
  std::string train(const std::string& extra) {
    return "train --data-dir " + dir_.string() + " --run-dir " + (dir_ / "run").string() +
           " --max-steps 2 " + extra;
  }
  fs::path dir_;
};

TEST_F(DataDir, SmallValidDataTrains) {
  const Result r = run(train(""));
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("test accuracy"));
  EXPECT_TRUE(fs::exists(dir_ / "run" / "summary.json"));
}

TEST_F(DataDir, WrongMagicNamesTheFile) {
  auto bytes = idx({100, 28, 28}, 100 * 784);
  bytes[2] = 0x0D;  // float data: not IDX unsigned bytes
  write_bytes(dir_ / "train-images-idx3-ubyte", bytes);
  expect_clear_error(run(train("")), "train-images-idx3-ubyte");
}

TEST_F(DataDir, TruncatedFileNamesTheFile) {
  write_bytes(dir_ / "train-images-idx3-ubyte", idx({100, 28, 28}, 100 * 784 - 10));
  expect_clear_error(run(train("")), "train-images-idx3-ubyte");
}

TEST_F(DataDir, TruncatedGzipNamesTheFile) {
  fs::remove(dir_ / "t10k-images-idx3-ubyte");
  const auto bytes = idx({20, 28, 28}, 20 * 784);
  const std::string gz = (dir_ / "t10k-images-idx3-ubyte.gz").string();
  gzFile f = gzopen(gz.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size() / 2));
  gzclose(f);
  expect_clear_error(run(train("")), "t10k-images-idx3-ubyte.gz");
}

TEST_F(DataDir, CountMismatchNamesBothFiles) {
  write_bytes(dir_ / "train-labels-idx1-ubyte", idx({99}, 99));
  const Result r = run(train(""));
  expect_clear_error(r, "train-labels-idx1-ubyte");
  EXPECT_THAT(r.out, HasSubstr("train-images-idx3-ubyte"));
}

TEST_F(DataDir, NonPositiveBatchSize) {
  expect_clear_error(run(train("--batch-size 0")), "--batch-size");
  expect_clear_error(run(train("--batch-size -3")), "--batch-size");
}

TEST_F(DataDir, UnknownFlag) {
  expect_clear_error(run(train("--bogus 1")), "--bogus");
}

TEST_F(DataDir, ConfigFileSetsOptionsAndFlagsWin) {
  std::ofstream(dir_ / "run.toml") << "batch-size = 10\nlr = 0.02\nmax-steps = 3\n";
  const Result r = run(train("--config " + (dir_ / "run.toml").string() + " --lr 0.03"));
  ASSERT_EQ(r.status, 0) << r.out;
  std::ifstream in(dir_ / "run" / "config.toml");
  const std::string resolved((std::istreambuf_iterator<char>(in)), {});
  EXPECT_THAT(resolved, HasSubstr("batch-size = 10"));
  EXPECT_THAT(resolved, HasSubstr("lr = 0.03"));
  EXPECT_THAT(resolved, HasSubstr("max-steps = 2"));  // the flag in train() wins over the file
}

TEST_F(DataDir, UnknownConfigKey) {
  std::ofstream(dir_ / "bad.toml") << "batch-size = 10\nlearning-rate = 0.1\n";
  expect_clear_error(run(train("--config " + (dir_ / "bad.toml").string())), "learning-rate");
}

TEST_F(DataDir, MissingConfigFile) {
  expect_clear_error(run(train("--config " + (dir_ / "none.toml").string())), "none.toml");
}

TEST(Cli, MissingDataDirSaysHowToInstall) {
  const Result r = run("train --data-dir /nonexistent/fashion --max-steps 1");
  expect_clear_error(r, "/nonexistent/fashion");
  EXPECT_THAT(r.out, HasSubstr("apt-get install dataset-fashion-mnist"));
}

TEST(Cli, NoSubcommandIsAnError) {
  const Result r = run("");
  EXPECT_NE(r.status, 0);
}

}  // namespace
