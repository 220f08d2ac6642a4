// The `tide` program as a user runs it: bad input gives one clear line and a non-zero exit.

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>

#include "support/silent_server.hpp"
#include "support/testing.hpp"
#include "tide/data/image_io.hpp"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

using Result = tide::testing::CommandResult;

Result run(const std::string& args) {
  return tide::testing::run_command(std::string(TIDE_BINARY_DIR) + "/tide " + args);
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
using tide::testing::write_bytes;

// An IDX file of `payload` bytes of value 1.
std::vector<uint8_t> idx(std::vector<uint32_t> dims, size_t payload) {
  return tide::testing::idx_bytes(dims, std::vector<uint8_t>(payload, 1));
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

TEST_F(DataDir, BadScheduleNamesTheFlag) {
  expect_clear_error(run(train("--lr-schedule linear")), "--lr-schedule");
  expect_clear_error(run(train("--lr-schedule cosine --warmup-steps -1")), "--warmup-steps");
}

TEST_F(DataDir, CosineScheduleWithWarmupTrainsAndIsRecorded) {
  const Result r = run(train("--lr-schedule cosine --warmup-steps 1 --min-lr 0.001"));
  ASSERT_EQ(r.status, 0) << r.out;
  std::ifstream in(dir_ / "run" / "config.toml");
  const std::string resolved((std::istreambuf_iterator<char>(in)), {});
  EXPECT_THAT(resolved, HasSubstr("lr-schedule = \"cosine\""));
  EXPECT_THAT(resolved, HasSubstr("warmup-steps = 1"));
  EXPECT_THAT(resolved, HasSubstr("min-lr = 0.001"));
}

TEST_F(DataDir, PerturbationAndRegularisationFlagsTrainAndAreRecorded) {
  const Result r = run(train(
      "--noise 0.2 --shift 2 --crop 2 --flip 0.5 --erase 0.5 --dropout 0.2 --batch-norm "
      "--hidden 32 --train-examples 50 --eval-train 20 --lr-schedule plateau --lr-patience 1"));
  ASSERT_EQ(r.status, 0) << r.out;
  std::ifstream in(dir_ / "run" / "config.toml");
  const std::string resolved((std::istreambuf_iterator<char>(in)), {});
  for (const char* line : {"noise = 0.2", "shift = 2", "crop = 2", "flip = 0.5", "erase = 0.5",
                           "dropout = 0.2", "batch-norm = true", "hidden = 32",
                           "train-examples = 50", "eval-train = 20", "lr-patience = 1"})
    EXPECT_THAT(resolved, HasSubstr(line));
  EXPECT_THAT(r.out, HasSubstr("50 training and 20 test examples"));
}

TEST_F(DataDir, BadPerturbationOrModelFlagsNameTheFlag) {
  expect_clear_error(run(train("--shift 28")), "--shift 28 must be smaller than the image");
  expect_clear_error(run(train("--flip 2")), "--flip must be in [0, 1], got 2");
  expect_clear_error(run(train("--dropout 1")), "--dropout must be in [0, 1)");
  expect_clear_error(
      run(train("--model cnn --dropout 0.5")),
      "--dropout sets the argument dropout of a model file; models/cnn.toml declares none");
  expect_clear_error(run(train("--train-examples 500")),
                     "--train-examples 500 is more than the 100 training examples");
  expect_clear_error(run(train("--warmup-epochs 1 --warmup-steps 5")),
                     "--warmup-epochs and --warmup-steps");
}

TEST_F(DataDir, ExperimentWritesItsReportAndRejectsBadSizes) {
  const std::string out = (dir_ / "exp").string();
  const Result r = run("experiment batch-size --data-dir " + dir_.string() +
                       " --batch-sizes 10,50 --epochs 2 --eval-train 40 --hidden 16 --out " + out);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("| batch-50 | 50 |"));
  for (const char* f :
       {"curves.csv", "summary.json", "summary.md", "train_accuracy.png", "train_loss.png",
        "test_accuracy.png", "test_loss.png", "batch-10/metrics.csv", "batch-50/model.safetensors"})
    EXPECT_TRUE(fs::exists(fs::path(out) / f)) << f;
  // The regularisation experiment: seven single runs, combinations chosen by test loss.
  const std::string reg = (dir_ / "reg").string();
  const Result g = run("experiment regularization --data-dir " + dir_.string() +
                       " --train-examples 100 --epochs 2 --eval-train 40 --hidden 16 --out " + reg);
  ASSERT_EQ(g.status, 0) << g.out;
  std::ifstream in(fs::path(reg) / "summary.json");
  const std::string summary((std::istreambuf_iterator<char>(in)), {});
  for (const char* name : {"\"none\"", "\"l2\"", "\"l1\"", "\"dropout\"", "\"batch-norm\"",
                           "\"noise\"", "\"shift\"", "\"best\":"})
    EXPECT_THAT(summary, HasSubstr(name));
  EXPECT_THAT(g.out, HasSubstr("best by test loss: "));
  expect_clear_error(run("experiment batch-size --data-dir " + dir_.string() +
                         " --batch-sizes 10,-5 --out " + out),
                     "-5 is not a positive batch size");
  expect_clear_error(run("experiment regularization --data-dir " + dir_.string() +
                         " --reg-dropout 1.5 --out " + out),
                     "dropout below 1");
  expect_clear_error(run("experiment"), "A subcommand is required");
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

TEST(Convolve, IdentityKeepsTheImageAndSharpenMatchesAHandComputedPixel) {
  const fs::path dir = fs::path(::testing::TempDir()) / "tide_convolve";
  fs::create_directories(dir);
  tide::Image img{4, 5, 3, {}};
  for (int i = 0; i < 4 * 5 * 3; ++i)
    img.pixels.push_back(static_cast<uint8_t>((i * 37) % 200 + 20));
  tide::write_png((dir / "in.png").string(), img);
  Result r = run("convolve --kernel identity " + (dir / "in.png").string() + " " +
                 (dir / "id.png").string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(tide::read_image((dir / "id.png").string()).pixels, img.pixels);

  r = run("convolve --kernel sharpen " + (dir / "in.png").string() + " " +
          (dir / "sh.png").string());
  ASSERT_EQ(r.status, 0) << r.out;
  const tide::Image out = tide::read_image((dir / "sh.png").string());
  // Pixel (1, 2), channel 1: 5 * centre minus the four neighbours, clamped to [0, 255].
  auto at = [&](int y, int x) { return static_cast<int>(img.pixels[(y * 5 + x) * 3 + 1]); };
  const int want = std::clamp(5 * at(1, 2) - at(0, 2) - at(2, 2) - at(1, 1) - at(1, 3), 0, 255);
  EXPECT_EQ(out.pixels[(1 * 5 + 2) * 3 + 1], want);
  // Corner (0, 0) with clamped edges: the outside neighbours repeat the corner itself.
  const int corner = std::clamp(5 * at(0, 0) - at(0, 0) - at(1, 0) - at(0, 0) - at(0, 1), 0, 255);
  EXPECT_EQ(out.pixels[1], corner);
}

TEST(Convolve, BadImageOrKernelIsOneClearLine) {
  const fs::path dir = fs::path(::testing::TempDir()) / "tide_convolve";
  fs::create_directories(dir);
  std::ofstream(dir / "bad.png") << "\x89PNG but not really";
  expect_clear_error(run("convolve " + (dir / "bad.png").string() + " " + (dir / "o.png").string()),
                     "bad.png");
  tide::write_png((dir / "ok.png").string(), tide::Image{2, 2, 1, {1, 2, 3, 4}});
  expect_clear_error(run("convolve --kernel '1,2;3' " + (dir / "ok.png").string() + " " +
                         (dir / "o.png").string()),
                     "square kernel");
}

TEST(TrainFolder, TrainsOnAnImageFolderAndExplainsTheLayout) {
  const fs::path root = fs::path(::testing::TempDir()) / "tide_folder_train";
  fs::remove_all(root);
  for (const char* split : {"train", "val"})
    for (int cls = 0; cls < 2; ++cls) {
      const fs::path dir = root / split / fmt::format("c{}", cls);
      fs::create_directories(dir);
      for (int i = 0; i < 3; ++i)
        tide::write_png(
            (dir / fmt::format("{}.png", i)).string(),
            tide::Image{12, 10, 3,
                        std::vector<uint8_t>(360, static_cast<uint8_t>(40 + 150 * cls + i))});
    }
  const Result r = run("train --dataset folder --data-dir " + root.string() +
                       " --image-size 8 --model cnn --batch-size 4 --max-steps 3 --run-dir " +
                       (root / "run").string());
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(fs::exists(root / "run" / "summary.json"));
  fs::remove_all(root / "val");
  expect_clear_error(run("train --dataset folder --data-dir " + root.string() + " --max-steps 1"),
                     "val/<class>/");
}

// `tide fit` as a user runs it: a quadratic through 30 noisy points.
class FitCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("tide_fit_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream out(dir_ / "data.csv");
    out << "t,height\n";
    for (int i = 0; i < 30; ++i) {
      const double t = i * 0.1;
      out << t << "," << 20 + 15 * t - 4.9 * t * t + ((i % 3) - 1) * 0.05 << "\n";
    }
  }
  std::string csv(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }
  std::string out() const { return (dir_ / "out").string(); }
  fs::path dir_;
};

TEST_F(FitCli, FitsPrintsAndDrawsAndAgreesWithTheClosedForm) {
  const Result gd =
      run("fit --model quadratic " + (dir_ / "data.csv").string() + " --out " + out());
  ASSERT_EQ(gd.status, 0) << gd.out;
  EXPECT_THAT(gd.out, HasSubstr("- 4.9 x^2\n  c0 = "));
  EXPECT_THAT(gd.out, HasSubstr("2000 steps of gd"));
  for (const char* f : {"fit.png", "loss.png", "fit.json"})
    EXPECT_TRUE(fs::exists(fs::path(out()) / f)) << f;
  const Result exact = run("fit --model quadratic --method closed-form --x t --y height " +
                           (dir_ / "data.csv").string() + " --out " + out() + "2");
  ASSERT_EQ(exact.status, 0) << exact.out;
  EXPECT_THAT(exact.out, HasSubstr("closed form"));
  // Each printed parameter ("  c1 = 15.0044...") agrees with the closed form's to 1e-4.
  const auto value = [](const std::string& text, const std::string& name) {
    const size_t at = text.find("  " + name + " = ");
    EXPECT_NE(at, std::string::npos) << name << " in " << text;
    return at == std::string::npos ? 0.0 : std::stod(text.substr(at + name.size() + 5));
  };
  for (const char* name : {"c0", "c1", "c2"})
    EXPECT_NEAR(value(gd.out, name), value(exact.out, name), 1e-4) << name;
  EXPECT_NEAR(value(exact.out, "c2"), -4.9, 0.05);
}

TEST_F(FitCli, ConstantDataFitsExactlyAndIsReported) {
  const Result r = run("fit " + csv("flat.csv", "x,y\n0,2\n1,2\n2,2\n") + " --out " + out());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("R^2 = undefined (y is constant)"));
  for (const char* f : {"fit.png", "loss.png", "fit.json"})
    EXPECT_TRUE(fs::exists(fs::path(out()) / f)) << f;
}

TEST_F(FitCli, DegreeSweepMarksTheLowestValidationError) {
  const Result r =
      run("fit --degrees 1-8 --validation 0.3 " + (dir_ / "data.csv").string() + " --out " + out());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("30 points: 21 for fitting, 9 held out"));
  EXPECT_THAT(r.out, HasSubstr("<- lowest validation error"));
  EXPECT_TRUE(fs::exists(fs::path(out()) / "capacity.png"));
  EXPECT_TRUE(fs::exists(fs::path(out()) / "capacity.json"));
}

TEST_F(FitCli, BadCsvNamesTheLine) {
  expect_clear_error(run("fit " + csv("cell.csv", "x,y\n1,2\n2,3\n3,x4\n")),
                     "cell.csv: line 4, column 'y': 'x4' is not a number");
  expect_clear_error(run("fit " + csv("nan.csv", "x,y\n1,2\n2,NaN\n")),
                     "nan.csv: line 3, column 'y': NaN is not a finite number");
  expect_clear_error(run("fit " + csv("empty.csv", "")), "empty.csv is empty");
  expect_clear_error(run("fit --y z " + (dir_ / "data.csv").string()),
                     "has no column 'z'; its columns are t, height");
  expect_clear_error(run("fit --model polynomial --degree 3 " + csv("few.csv", "x,y\n1,2\n2,3\n")),
                     "2 points cannot determine the 4 parameters");
  expect_clear_error(run("fit --model logistic " + csv("range.csv", "x,y\n1,0.2\n2,1.5\n")),
                     "range.csv: line 3: --model logistic fits y in [0, 1]");
  expect_clear_error(run("fit --degrees 3-x " + (dir_ / "data.csv").string()),
                     "--degrees must be a range such as 1-15");
  expect_clear_error(
      run("fit --model exponential --method closed-form " + (dir_ / "data.csv").string()),
      "closed-form solves the models linear in their parameters");
}

// `tide kmeans` on three well-separated blobs of 40 points, labels kept for comparison.
TEST_F(FitCli, KMeansFindsTheBlobsAndWritesItsFiles) {
  std::string text = "a,b,label\n";
  for (int i = 0; i < 120; ++i) {
    const int c = i % 3;
    const double jitter = 0.1 * ((i * 7) % 11 - 5);
    text += fmt::format("{},{},{}\n", 10 * c + jitter, (c == 1 ? 8 : 0) - jitter, c);
  }
  const std::string data = csv("blobs.csv", text);
  const Result r = run("kmeans " + data + " --k 3 --label label --out " + out());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("cluster sizes 40, 40, 40"));
  EXPECT_THAT(r.out, HasSubstr("adjusted Rand index 1.0000, NMI 1.0000"));
  for (const char* f : {"assignments.csv", "centroids.csv", "kmeans.json"})
    EXPECT_TRUE(fs::exists(fs::path(out()) / f)) << f;
  expect_clear_error(run("kmeans " + data + " --k 200"), "120 points cannot make 200 clusters");
  expect_clear_error(run("kmeans " + data + " --k 2 --columns a,z"), "has no column 'z'");
  expect_clear_error(run("kmeans " + csv("half.csv", "a,label\n1,0.5\n2,1\n") +
                         " --k 2 --label label --out " + out()),
                     "half.csv: line 2: label 0.5 is not a whole number");
}

// Values near the float and double limits: finite centroids, or no exit 0 at all.
TEST_F(FitCli, KMeansOnHugeValuesPrintsFiniteCentroids) {
  for (const char* big : {"3e38", "1e307"}) {
    std::string text = "a,b\n";
    for (int i = 0; i < 30; ++i)
      text += fmt::format("{}{}e{},{}\n", i % 2 ? "-" : "", 1 + (i % 5) * 0.1,
                          std::string(big).substr(std::string(big).find('e') + 1),
                          i % 3 == 0 ? big : "0");
    const Result r = run("kmeans " + csv("big.csv", text) + " --k 3 --out " + out());
    ASSERT_EQ(r.status, 0) << r.out;
    std::ifstream in(fs::path(out()) / "centroids.csv");
    const std::string centroids((std::istreambuf_iterator<char>(in)), {});
    EXPECT_THAT(centroids, ::testing::Not(HasSubstr("nan"))) << big;
    EXPECT_THAT(centroids, ::testing::Not(HasSubstr("inf"))) << big;
    EXPECT_THAT(r.out, ::testing::Not(HasSubstr("nan"))) << big;
  }
}

TEST_F(FitCli, TimeSeriesGenerateWritesLongCsv) {
  const std::string file = (dir_ / "series.csv").string();
  const Result r =
      run("timeseries generate --out " + file + " --series 12 --length 16 --classes 4 --seed 2");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("12 series of 16 points in 4 classes"));
  std::ifstream in(file);
  std::string header;
  std::getline(in, header);
  EXPECT_EQ(header, "series_id,t,value,label");
  int rows = 0;
  for (std::string line; std::getline(in, line);) ++rows;
  EXPECT_EQ(rows, 12 * 16);
  expect_clear_error(run("timeseries generate --out " + file + " --classes 12"),
                     "--classes must be between 1 and 8");
}

// The README's round trip: a run's config.toml, given back with --config, repeats the run.
TEST_F(DataDir, ConfigTomlOfARunRepeatsIt) {
  ASSERT_EQ(run(train("")).status, 0);
  const Result again = run("train --config " + (dir_ / "run" / "config.toml").string() +
                           " --run-dir " + (dir_ / "run2").string());
  ASSERT_EQ(again.status, 0) << again.out;
  const auto settings = [](const fs::path& file) {  // without the run-dir line
    std::ifstream in(file);
    std::string out;
    for (std::string line; std::getline(in, line);)
      if (!line.starts_with("run-dir = ")) out += line + "\n";
    return out;
  };
  EXPECT_EQ(settings(dir_ / "run2" / "config.toml"), settings(dir_ / "run" / "config.toml"));
  EXPECT_THAT(settings(dir_ / "run" / "config.toml"), HasSubstr("lr-milestones = []"));
}

TEST_F(DataDir, ResumingWithAnotherModelNamesTheCheckpointAndTheFlags) {
  const std::string base =
      "train --data-dir " + dir_.string() + " --run-dir " + (dir_ / "run").string();
  ASSERT_EQ(run(base + " --hidden 16 --max-steps 2").status, 0);
  const Result r = run(base + " --hidden 32 --max-steps 4");
  expect_clear_error(r, (dir_ / "run" / "checkpoints").string());
  EXPECT_THAT(r.out, HasSubstr("written by a run with another model (--model mlp --hidden 16); "
                               "this run has --model mlp --hidden 32"));
  EXPECT_THAT(r.out, HasSubstr("is f32[16], the model expects f32[32]"));
  EXPECT_THAT(r.out, HasSubstr("start afresh with --resume never or another --run-dir"));
}

TEST(Cli, UnknownSubcommandNamesTheWordAndTheChoices) {
  Result r = run("frobnicate");
  EXPECT_EQ(r.status, 2) << r.out;
  expect_clear_error(r, "unknown subcommand 'frobnicate' of `tide`; its subcommands are train, ");
  r = run("experiment bogus --epochs 1");
  EXPECT_EQ(r.status, 2) << r.out;
  expect_clear_error(r,
                     "unknown subcommand 'bogus' of `tide experiment`; its subcommands are "
                     "batch-size, regularization, time-to-solution");
  r = run("timeseries frob");
  EXPECT_EQ(r.status, 2) << r.out;
  expect_clear_error(r, "unknown subcommand 'frob' of `tide timeseries`; its subcommands are ");
}

// A numeric flag out of range is a parse error (exit 2) naming it, in every subcommand.
TEST(Cli, BadNumbersAreParseErrorsNamingTheFlag) {
  for (const auto& [args, want] : std::vector<std::pair<std::string, std::string>>{
           {"train --seed -1", "--seed: -1 is negative"},
           {"train --hidden 99999999999999999999", "--hidden: 99999999999999999999 does not fit"},
           {"kmeans x.csv --k 2 --tolerance nan", "--tolerance: nan is not a finite number"},
           {"fit x.csv --lr inf", "--lr: inf is not a finite number"},
           {"timeseries generate --out x.csv --noise nan", "--noise: nan is not a finite"},
           {"timeseries train --db x --retry-seconds -inf", "--retry-seconds: -inf is not"},
           {"experiment batch-size --batch-sizes 64,99999999999999999999",
            "--batch-sizes: 99999999999999999999 does not fit"},
       }) {
    const Result r = run(args);
    EXPECT_EQ(r.status, 2) << args << ": " << r.out;
    expect_clear_error(r, want);
  }
}

// A database that accepts the connection and never answers: `timeseries train` gives up in
// about --retry-seconds, naming the server, its password masked.
TEST(Cli, ASilentDatabaseIsGivenUpInRetrySeconds) {
  const tide::testing::SilentServer server;
  const auto start = std::chrono::steady_clock::now();
  const Result r = run("timeseries train --db '" + server.connection("hunter22") +
                       "' --retry-seconds 3 --max-steps 1");
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(s, 8) << r.out;
  expect_clear_error(r, "cannot connect to PostgreSQL (host=127.0.0.1 port=");
  EXPECT_THAT(r.out, HasSubstr("password=***"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("hunter22")));
}

TEST(Cli, NoSubcommandIsAnError) {
  const Result r = run("");
  EXPECT_NE(r.status, 0);
}

}  // namespace
