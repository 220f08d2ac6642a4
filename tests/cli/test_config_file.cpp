// `tide train`'s flags and config files, parsed as the program parses them but without
// training: every flag's value survives config.toml and --config, the TOML reader refuses
// what a config does not have, and bad values are refused by the flag's name.
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"
#include "tide/cli/commands.hpp"
#include "tide/cli/config_file.hpp"
#include "tide/session/training_run.hpp"
#include "tide/timeseries/series.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;
using cli::parse_config_text;
using ::testing::HasSubstr;
using ::testing::Not;

// The result of parsing `tide train <args>`: the configuration, or the error (a parse
// error of CLI11 or a tide::Error) as the program would report it.
struct Parsed {
  TrainConfig config;
  std::string error;  // empty: parsed
};

Parsed parse_train(const std::vector<std::string>& args) {
  CLI::App app{"tide", "tide"};
  auto config = std::make_shared<TrainConfig>();
  std::string config_path;
  CLI::App* cmd = cli::add_train_parser(app, config, config_path);
  cli::add_number_checks(app);
  cmd->callback([&] { cli::resolve_train_config(*cmd, *config, config_path); });
  std::vector<std::string> argv = {"train"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::reverse(argv.begin(), argv.end());  // CLI11 takes the arguments last first
  Parsed p;
  try {
    app.parse(argv);
  } catch (const CLI::ParseError& e) {
    p.error = e.what();
  } catch (const Error& e) {
    p.error = e.what();
  }
  p.config = *config;
  return p;
}

class ConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("tide_config_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  // The error of `tide train --config <file holding text>`.
  std::string config_error(const std::string& text) {
    return parse_train({"--config", write("c.toml", text)}).error;
  }
  fs::path dir_;
};

// One non-default setting of each flag of `tide train` (with its partner where a flag needs
// one), chosen to exercise quoting, large integers and short decimals.
// A model file for --model-file, written where the cases can read it.
std::string model_file() {
  static const std::string path = [] {
    const std::string p = (fs::path(::testing::TempDir()) / "tide config net.toml").string();
    std::ofstream(p) << "[[layers]]\ntype = \"flatten\"\n[[layers]]\ntype = \"linear\"\n"
                        "units = \"$classes\"\n";
    return p;
  }();
  return path;
}

const std::map<std::string, std::vector<std::string>>& non_defaults() {
  static const std::map<std::string, std::vector<std::string>> m = {
      {"model", {"--model", "cnn"}},
      {"model-file", {"--model-file", model_file()}},
      {"dataset", {"--dataset", "mnist"}},
      {"task", {"--task", "regression", "--dataset", "csv"}},
      {"target", {"--target", "y,z"}},
      {"loss", {"--loss", "cross-entropy"}},
      {"huber-delta", {"--huber-delta", "2.5"}},
      {"data-dir", {"--data-dir", "/data/with space/and \"quotes\" \\ here"}},
      {"image-size", {"--image-size", "32"}},
      {"train-examples", {"--train-examples", "50"}},
      {"eval-train", {"--eval-train", "-1"}},
      {"epochs", {"--epochs", "9223372036854775807"}},
      {"max-steps", {"--max-steps", "7"}},
      {"batch-size", {"--batch-size", "10"}},
      {"hidden", {"--hidden", "32"}},
      {"dropout", {"--dropout", "0.25"}},
      {"batch-norm", {"--batch-norm"}},
      {"noise", {"--noise", "0.1"}},
      {"shift", {"--shift", "2"}},
      {"crop", {"--crop", "1"}},
      {"flip", {"--flip", "0.5"}},
      {"erase", {"--erase", "0.3"}},
      {"label-smoothing", {"--label-smoothing", "0.1"}},
      {"accumulate", {"--accumulate", "2"}},
      {"teams", {"--teams", "2", "--team-flag", "lr", "--team-values", "0.1,0.2"}},
      {"team-flag", {"--team-flag", "batch-size", "--team-values", "32"}},
      {"team-values", {"--team-flag", "seed", "--team-values", "5"}},
      {"optimizer", {"--optimizer", "adam"}},
      {"lr", {"--lr", "0.123456789012345"}},
      {"momentum", {"--momentum", "0.5"}},
      {"weight-decay", {"--weight-decay", "1e-05"}},
      {"nesterov", {"--nesterov"}},
      {"beta1", {"--beta1", "0.8"}},
      {"beta2", {"--beta2", "0.99"}},
      {"amsgrad", {"--amsgrad", "--optimizer", "adamw"}},
      {"eps", {"--eps", "1e-07"}},
      {"lars-trust", {"--lars-trust", "0.01"}},
      {"l1", {"--l1", "0.0001"}},
      {"clip-norm", {"--clip-norm", "2.5"}},
      {"no-decay-bias-norm", {"--no-decay-bias-norm"}},
      {"clip-value", {"--clip-value", "0.5"}},
      {"lr-schedule", {"--lr-schedule", "step"}},
      {"warmup-steps", {"--warmup-steps", "5"}},
      {"min-lr", {"--min-lr", "0.001"}},
      {"lr-step-size", {"--lr-step-size", "10"}},
      {"lr-milestones", {"--lr-schedule", "multistep", "--lr-milestones", "3,9"}},
      {"lr-gamma", {"--lr-gamma", "0.5"}},
      {"lr-power", {"--lr-power", "2"}},
      {"warmup-epochs", {"--warmup-epochs", "0.5"}},
      {"lr-patience", {"--lr-patience", "3"}},
      {"lr-threshold", {"--lr-threshold", "0.01"}},
      {"lr-scaling", {"--lr-scaling", "sqrt"}},
      {"lr-base-batch", {"--lr-base-batch", "256"}},
      {"seed", {"--seed", "18446744073709551615"}},
      {"threads", {"--threads", "3"}},
      {"run-dir", {"--run-dir", "runs/a 'b' \"c\""}},
      {"log-every", {"--log-every", "7"}},
      {"prefetch", {"--prefetch", "4"}},
      {"stall-timeout", {"--stall-timeout", "30.5"}},
      {"bucket-mb", {"--bucket-mb", "5"}},
      {"first-bucket-mb", {"--first-bucket-mb", "0.5"}},
      {"overlap", {"--overlap", "off"}},
      {"precision", {"--precision", "bf16"}},
      {"grad-compression", {"--grad-compression", "bf16"}},
      {"checkpoint-every-secs", {"--checkpoint-every-secs", "0"}},
      {"checkpoint-every-steps", {"--checkpoint-every-steps", "3"}},
      {"keep-checkpoints", {"--keep-checkpoints", "1"}},
      {"resume", {"--resume", "never"}},
      {"nan-policy", {"--nan-policy", "skip"}},
      {"early-stopping", {"--early-stopping", "2"}},
      {"summary-every-steps", {"--summary-every-steps", "0"}},
      {"histogram-every-steps", {"--histogram-every-steps", "5"}},
      {"trace", {"--trace", "trace.json"}},
      {"trace-steps", {"--trace-steps", "10-20"}},
  };
  return m;
}

// config.toml as a run writes it: the configuration and the [run] table.
std::string written(const TrainConfig& c) {
  return to_toml(c) + run_toml(1, c.batch_size * c.accumulate, c.lr);
}

TEST_F(ConfigFile, EveryFlagOfTrainHasACase) {
  CLI::App app{"tide", "tide"};
  std::string path;
  CLI::App* cmd = cli::add_train_parser(app, std::make_shared<TrainConfig>(), path);
  int flags = 0;
  for (const CLI::Option* opt : cmd->get_options()) {
    if (opt->get_lnames().empty()) continue;
    const std::string name = opt->get_lnames().front();  // without the dashes
    if (name == "help" || name == "config") continue;
    ++flags;
    EXPECT_TRUE(non_defaults().contains(name)) << "no round-trip case for --" << name;
  }
  EXPECT_EQ(flags, static_cast<int>(non_defaults().size()));
}

TEST_F(ConfigFile, DefaultsAndEveryFlagSurviveConfigTomlAndConfig) {
  std::vector<std::pair<std::string, std::vector<std::string>>> cases = {{"defaults", {}}};
  for (const auto& [name, args] : non_defaults()) cases.emplace_back(name, args);
  const std::string defaults = written(parse_train({}).config);
  for (const auto& [name, args] : cases) {
    const Parsed first = parse_train(args);
    ASSERT_EQ(first.error, "") << name;
    const std::string text = written(first.config);
    if (name != "defaults") {
      EXPECT_NE(text, defaults) << "--" << name << " is not written";
    }
    const Parsed again = parse_train({"--config", write(name + ".toml", text)});
    ASSERT_EQ(again.error, "") << name << ":\n" << text;
    EXPECT_EQ(written(again.config), text) << name;
  }
}

TEST_F(ConfigFile, FlagsWinOverTheFileAndTablesAndCommentsAreRead) {
  const std::string path =
      write("c.toml",
            "# a comment\n[train]\nlr = 0.5  # trailing\nbatch-size = 12\n"
            "lr-milestones = []\ndata-dir = 'lit\\eral'\n\n[run]\nranks = 4\n");
  const Parsed p = parse_train({"--config", path, "--batch-size", "20"});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.config.lr, 0.5);
  EXPECT_EQ(p.config.batch_size, 20);
  EXPECT_EQ(p.config.data_dir, "lit\\eral");
  EXPECT_TRUE(p.config.schedule.milestones.empty());
}

TEST_F(ConfigFile, MalformedTomlIsRefusedWithFileLineAndKey) {
  const std::string file = (dir_ / "c.toml").string();
  for (const auto& [text, want] : std::vector<std::pair<std::string, std::string>>{
           {"lr = 0.1\nmomentum =\n", "line 2: key 'momentum' has no value"},
           {"momentum =   # nothing\n", "line 1: key 'momentum' has no value"},
           {"[optimizer.extra]\nlr = 1\n", "line 1: table [optimizer.extra] is not one"},
           {"[train.extra]\n", "table [train.extra]"},
           {"[optimizer]\nmomentum = 0.5\n", "table [optimizer] is not one of this file's"},
           {"[[train]]\n", "line 1: table [train]"},
           {"optimizer.momentum = 0.5\n", "dotted key 'optimizer...'"},
           {"lr = 0.1 0.2\n", "key 'lr': unexpected '0.2' after the value"},
           {"lr = 0.1\nlr = 0.2\n", "line 2: key 'lr' is given twice"},
           {"model = {name = \"mlp\"}\n", "inline tables"},
           {"data-dir = \"open\n", "key 'data-dir': the string has no closing quote"},
           {"lr 0.1\n", "key 'lr' is not followed by '='"},
           {"lr-milestones = [1, 2\n", "ends with ']' on the same line"},
           {"= 3\n", "expected `key = value`"},
           {"learning-rate = 0.1\n",
            "line 1: unknown key 'learning-rate'; keys are the flags of `tide train`"},
           {"config = \"other.toml\"\n", "unknown key 'config'"},
           {"batch-size = [1, 2]\n", "key 'batch-size' takes one value, not a list"},
           {"lr = \"fast\"\n", "line 1: key 'lr'"},
           {"lr = nan\n", "nan is not a finite number"},
           {"seed = -1\n", "-1 is negative"},
           {"momentum = -0.5\n", "--momentum must be in [0, 1), got -0.5"},
           {"resume = \"\"\n",
            "line 1: key 'resume': --resume must be auto, never or a checkpoint's path"},
           {"optimizer = \"adamax\"\n", "line 1: key 'optimizer': --optimizer: adamax not in"},
       }) {
    const std::string error = config_error(text);
    EXPECT_THAT(error, HasSubstr(want)) << text;
    EXPECT_THAT(error, HasSubstr(file)) << text;
  }
}

TEST_F(ConfigFile, MissingFileIsNamed) {
  EXPECT_THAT(parse_train({"--config", (dir_ / "none.toml").string()}).error,
              HasSubstr("none.toml does not exist"));
}

// Each bad value of a flag, refused with the flag's name and what it may be.
TEST_F(ConfigFile, BadValuesAreRefusedByName) {
  for (const auto& [args, want] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--seed", "-1"}, "--seed: -1 is negative"},
           {{"--seed", "18446744073709551616"}, "--seed: 18446744073709551616 does not fit"},
           {{"--noise", "-1"}, "--noise must be >= 0, got -1"},
           {{"--noise", "nan"}, "--noise: nan is not a finite number"},
           {{"--noise", "inf"}, "--noise: inf is not a finite number"},
           {{"--shift", "-1"}, "--shift must be >= 0, got -1"},
           {{"--crop", "-2"}, "--crop must be >= 0, got -2"},
           {{"--flip", "nan"}, "--flip: nan is not a finite number"},
           {{"--flip", "1.5"}, "--flip must be in [0, 1], got 1.5"},
           {{"--erase", "-1"}, "--erase must be in [0, 1], got -1"},
           {{"--batch-size", "99999999999999999999"},
            "--batch-size: 99999999999999999999 does "
            "not fit in 64 bits"},
           {{"--batch-size", "9999999999"},
            "--batch-size must be a positive integer of at most 4294967296"},
           {{"--batch-size", "0x10"}, "--batch-size: '0x10' is not a whole number"},
           {{"--accumulate", "99999999999"}, "--accumulate must be a positive integer of at most"},
           {{"--hidden", "99999999999999999999"}, "--hidden: 99999999999999999999 does not fit"},
           {{"--hidden", "4000000000"}, "--hidden must be a positive integer of at most 1048576"},
           {{"--teams", "99999999999999999999"}, "--teams: 99999999999999999999 does not fit"},
           {{"--lr", "1e999"}, "--lr: 1e999 is not a finite number"},
           {{"--bucket-mb", "1e300"},
            "--bucket-mb must be a positive number of at most 1000000, got 1e+300"},
           {{"--stall-timeout", "-3"}, "--stall-timeout must be a positive number"},
           {{"--weight-decay", "-1"}, "--weight-decay must be >= 0, got -1"},
           {{"--lr-schedule", "multistep"}, "--lr-schedule multistep needs --lr-milestones"},
           {{"--optimizer", "adam", "--nesterov"}, "--nesterov is an option of --optimizer sgd"},
           {{"--optimizer", "adamax"}, "--optimizer: adamax not in {sgd,adam,adamw,rmsprop"},
           {{"--overlap", "maybe"}, "--overlap: maybe not in {auto,on,off}"},
           {{"--precision", "f16"}, "--precision: f16 not in {f32,bf16}"},
           {{"--grad-compression", "fp16"}, "--grad-compression: fp16 not in {none,bf16}"},
           {{"--resume", ""}, "--resume must be auto, never or a checkpoint's path"},
           {{"--team-values", "1,2"},
            "--team-flag and --team-values go together (got only --team-values)"},
           {{"--team-flag", "lr", "--team-values", "0.1,0.2"},
            "--team-values '0.1,0.2' has 2 values; --teams 1 needs one per team"},
           {{"--teams", "3", "--team-flag", "lr", "--team-values", "0.1,0.2"},
            "--team-values '0.1,0.2' has 2 values; --teams 3 needs one per team"},
           {{"--team-flag", "bogus", "--team-values", "1"},
            "--team-flag 'bogus': `tide train` has no flag --bogus"},
           {{"--team-flag", "run-dir", "--team-values", "x"}, "--team-flag cannot be --run-dir"},
           {{"--teams", "2", "--team-flag", "batch-size", "--team-values", "64,0"},
            "--team-values: team 1's --batch-size 0: --batch-size must be a positive integer"},
           {{"--teams", "2", "--team-flag", "lr", "--team-values", "0.1,nan"},
            "--team-values: 'nan' is not a value of --lr: --lr: nan is not a finite number"},
       }) {
    EXPECT_THAT(parse_train(args).error, HasSubstr(want)) << args[0] << " " << args[1];
  }
}

TEST_F(ConfigFile, WholeNumbersAreDecimalAndTheLargestFit) {
  EXPECT_EQ(parse_train({"--seed", "010"}).config.seed, 10u);  // not octal
  EXPECT_EQ(parse_train({"--seed", "18446744073709551615"}).config.seed, UINT64_MAX);
  EXPECT_EQ(parse_train({"--epochs", "9223372036854775807"}).config.epochs, INT64_MAX);
  EXPECT_EQ(parse_train({"--eval-train", "-1"}).config.eval_train, -1);
  EXPECT_EQ(parse_train({"--seed", "+7"}).config.seed, 7u);
}

// `tide timeseries train` the same way: parsed with --db (which config.toml leaves out).
struct SeriesParsed {
  TrainConfig config;
  SeriesTrainOptions options;
  std::string error;
};

SeriesParsed parse_series_train(const std::vector<std::string>& args) {
  CLI::App app{"tide", "tide"};
  CLI::App* ts = app.add_subcommand("timeseries");
  SeriesParsed p;
  std::string config_path;
  CLI::App* cmd = cli::add_series_train_parser(*ts, p.config, p.options, config_path);
  cli::add_number_checks(app);
  cmd->callback([&] {
    if (!config_path.empty()) cli::apply_config_file(*cmd, config_path);
  });
  std::vector<std::string> argv = {"timeseries", "train", "--db", "host=db password=pw"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::reverse(argv.begin(), argv.end());
  try {
    app.parse(argv);
  } catch (const CLI::ParseError& e) {
    p.error = e.what();
  } catch (const Error& e) {
    p.error = e.what();
  }
  return p;
}

std::string written(const SeriesParsed& p) {
  const WindowSpec windows{.length = p.options.data.window, .stride = p.options.data.stride};
  return series_config_toml(p.config, p.options, windows) + run_toml(1, 32, 0.01);
}

TEST_F(ConfigFile, TimeseriesTrainConfigTomlRepeatsItsFlags) {
  const std::map<std::string, std::vector<std::string>> own = {
      {"model", {"--model", "lstm-ae"}},  // the only model: never a change
      {"table", {"--table", "my \"series\" table"}},
      {"window", {"--window", "16"}},
      {"stride", {"--stride", "4"}},
      {"retry-seconds", {"--retry-seconds", "3.5"}},
      {"fetch-mb", {"--fetch-mb", "2"}},
      {"latent", {"--latent", "8"}},
      {"hidden", {"--hidden", "32"}},
      {"layers", {"--layers", "2"}},
      {"code", {"--code", "pooled"}},
      {"shuffle-buffer", {"--shuffle-buffer", "100"}},
      {"validation", {"--validation", "0.2"}},
      {"target-loss", {"--target-loss", "0.01"}},
      {"locality", {"--locality", "shard"}},
      {"optimizer", {"--optimizer", "rmsprop"}},  // adam is this command's default
  };
  const std::string defaults = written(parse_series_train({}));
  CLI::App app{"tide", "tide"};
  CLI::App* ts = app.add_subcommand("timeseries");
  TrainConfig c;
  SeriesTrainOptions o;
  std::string path;
  int flags = 0;
  for (const CLI::Option* opt : cli::add_series_train_parser(*ts, c, o, path)->get_options()) {
    if (opt->get_lnames().empty()) continue;
    const std::string name = opt->get_lnames().front();
    if (name == "help" || name == "config" || name == "db") continue;
    ++flags;
    const auto it = own.find(name);
    ASSERT_TRUE(it != own.end() || non_defaults().contains(name)) << "no case for --" << name;
    const std::vector<std::string>& args = it != own.end() ? it->second : non_defaults().at(name);
    const SeriesParsed first = parse_series_train(args);
    ASSERT_EQ(first.error, "") << name;
    const std::string text = written(first);
    if (name != "model") {
      EXPECT_NE(text, defaults) << "--" << name << " is not written";
    }
    const SeriesParsed again = parse_series_train({"--config", write(name + ".toml", text)});
    ASSERT_EQ(again.error, "") << name << ":\n" << text;
    EXPECT_EQ(written(again), text) << name;
  }
  EXPECT_GT(flags, 40);
  const std::string classifier_only = write("c.toml", "dataset = \"mnist\"\n");
  EXPECT_THAT(parse_series_train({"--config", classifier_only}).error,
              HasSubstr("unknown key 'dataset'; keys are the flags of `tide timeseries train`"));
}

// A seeded mutation loop over a run's config.toml (bytes flipped, inserted, deleted, lines
// cut): every mutant is read or refused with a tide::Error naming the file, through the
// whole path of --config; nothing else escapes.
TEST_F(ConfigFile, MutatedConfigFilesAreReadOrRefusedCleanly) {
  TrainConfig c = parse_train(non_defaults().at("lr-milestones")).config;
  c.run_dir = "runs/x";
  const std::string valid = written(c);
  std::mt19937_64 rng(15);
  const std::string alphabet = "[]=\"'#.,\n\\ -0123456789eE+naifrtu{}\t\x01\xff";
  int refused = 0;
  for (int i = 0; i < 1500; ++i) {
    std::string text = valid;
    for (int edits = 1 + static_cast<int>(rng() % 4); edits > 0; --edits) {
      const size_t at = rng() % text.size();
      switch (rng() % 4) {
        case 0:
          text[at] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          text.insert(text.begin() + static_cast<std::ptrdiff_t>(at),
                      alphabet[rng() % alphabet.size()]);
          break;
        case 2:
          text.erase(at, 1 + rng() % 8);
          break;
        default:
          text.resize(at);
          break;
      }
      if (text.empty()) text.push_back('=');
    }
    const std::string path = (dir_ / "m.toml").string();
    try {
      parse_config_text(text, path, {"train", "run"});
      if (i % 5 == 0) {  // one in five through the file, CLI11 and the checks as well
        write("m.toml", text);
        CLI::App app{"tide", "tide"};
        auto config = std::make_shared<TrainConfig>();
        std::string config_path;
        CLI::App* cmd = cli::add_train_parser(app, config, config_path);
        cli::add_number_checks(app);
        cli::apply_config_file(*cmd, path);
      }
    } catch (const Error& e) {
      ++refused;
      EXPECT_THAT(e.what(), HasSubstr(path)) << text;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not a tide::Error: " << e.what() << "\n" << text;
    }
  }
  EXPECT_GT(refused, 500);  // the mutants do reach the checks
}

// Every whole-number and floating-point flag of every subcommand has the checks: NaN, inf
// and values past 64 bits are parse errors naming the flag.
TEST(AllCommands, NumericFlagsRefuseNanInfinityAndOverflowByName) {
  CLI::App app{"tide", "tide"};
  cli::add_train_command(app);
  cli::add_convolve_command(app);
  cli::add_plot_command(app);
  cli::add_experiment_command(app);
  cli::add_fit_command(app);
  cli::add_kmeans_command(app);
  cli::add_timeseries_command(app);
  cli::add_number_checks(app);
  int checked = 0;
  std::function<void(CLI::App&, std::vector<std::string>)> visit =
      [&](CLI::App& a, std::vector<std::string> path) {
        for (CLI::Option* opt : a.get_options()) {
          const std::string type = opt->get_type_name();
          std::vector<std::string> bad;
          if (type.starts_with("UINT")) {
            bad = {"-1", "18446744073709551616"};
          } else if (type.starts_with("INT")) {
            bad = {"99999999999999999999", "1.5"};
          } else if (type.starts_with("FLOAT")) {
            bad = {"nan", "inf", "-inf", "1e400"};
          }
          for (const std::string& value : bad) {
            std::string error;
            try {
              opt->clear();
              opt->add_result(value);
              opt->run_callback();
            } catch (const CLI::ParseError& e) {
              error = e.what();
            }
            EXPECT_THAT(error, HasSubstr(opt->get_name()))
                << fmt::format("{}", fmt::join(path, " "));
            EXPECT_THAT(error, HasSubstr(value));
            ++checked;
          }
          opt->clear();
        }
        for (CLI::App* sub : a.get_subcommands([](CLI::App*) { return true; })) {
          std::vector<std::string> p = path;
          p.push_back(sub->get_name());
          visit(*sub, p);
        }
      };
  visit(app, {"tide"});
  EXPECT_GT(checked, 300);  // every subcommand's numbers, not a few
}

}  // namespace
}  // namespace tide
