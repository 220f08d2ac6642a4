// Options declared once: choices by name, limits and the messages they give, names rendered
// as members or as flags, and the TOML written from a table.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"
#include "tide/core/options.hpp"

namespace tide {

enum class Colour { red, dark_green };
constexpr std::array<std::string_view, 2> choice_names(Colour) {
  return {"red", "dark-green"};
}

struct Paint {
  Colour colour = Colour::red;
  int64_t coats = 2;
  double gloss = 0.5;
  bool primer = false;
  std::string label = "a \"b\"";
  std::vector<int64_t> walls = {1, 3};
  uint64_t seed = UINT64_MAX;
};

std::vector<Option> options(Paint& p) {
  return {option("colour", "colour", p.colour, "The colour"),
          option("coats", "coats", p.coats, "Coats", above(0).at_most(10)),
          option("gloss", "gloss", p.gloss, "Gloss", half_open(0, 1).zero_means("matt")),
          option("primer", "primer", p.primer, "Primer first"),
          option("label", "label", p.label, "The label"),
          option("walls", "walls", p.walls, "Walls"),
          option("seed", "seed", p.seed, "Seed")};
}

namespace {

using testing::error_of;
using ::testing::HasSubstr;

TEST(Options, ChoicesAreNamedOnce) {
  EXPECT_EQ(name_of(Colour::dark_green), "dark-green");
  EXPECT_EQ(parse_choice<Colour>("dark-green", "colour"), Colour::dark_green);
  EXPECT_EQ(error_of([] { parse_choice<Colour>("blue", "colour"); }),
            "colour must be red or dark-green, got 'blue'");
  EXPECT_EQ(or_list({"a", "b", "c"}), "a, b or c");
  EXPECT_EQ(or_list({"a"}), "a");
}

TEST(Options, LimitsGiveTheirRuleAndTheValue) {
  Paint p;
  EXPECT_EQ(error_of([&] { check_limits(options(p)); }), "no error");
  p.coats = 0;
  EXPECT_EQ(error_of([&] { check_limits(options(p)); }),
            "coats must be a positive integer of at most 10, got 0");
  p.coats = 11;
  EXPECT_THAT(error_of([&] { check_limits(options(p)); }), HasSubstr("got 11"));
  p.coats = 10;
  p.gloss = 1;
  EXPECT_EQ(error_of([&] { check_limits(options(p)); }),
            "gloss must be in [0, 1) (0: matt), got 1");
  p.gloss = std::nan("");
  EXPECT_THAT(error_of([&] { check_limits(options(p)); }), HasSubstr("got nan"));
}

TEST(Options, ErrorsNameMembersOrFlags) {
  try {
    fail_option({"gloss", "coats"}, "{0} needs {1} > 1; the label '{}' stays", "{0}");
  } catch (const OptionError& e) {
    // The library's message; a {0} in user text is not a name.
    EXPECT_EQ(std::string(e.what()), "gloss needs coats > 1; the label '{0}' stays");
    EXPECT_EQ(e.render([](const std::string& n) { return "--" + n; }),
              "--gloss needs --coats > 1; the label '{0}' stays");
    EXPECT_EQ(std::string(e.prefixed("paint.").what()),
              "paint.gloss needs paint.coats > 1; the label '{0}' stays");
    EXPECT_THAT(e.where(), HasSubstr("test_options.cpp:"));
    return;
  }
  ADD_FAILURE() << "fail_option did not throw";
}

TEST(Options, TextValuesReadAndWriteTheirNames) {
  Paint p;
  const std::vector<Option> o = options(p);
  const auto& colour = std::get<TextValue>(o[0].value);
  colour.set("dark-green");
  EXPECT_EQ(p.colour, Colour::dark_green);
  EXPECT_EQ(colour.get(), "dark-green");
  EXPECT_EQ(o[0].choices, (std::vector<std::string>{"red", "dark-green"}));
  EXPECT_THAT(error_of([&] { colour.set("blue"); }), HasSubstr("colour must be red or dark-green"));
}

TEST(Options, TomlLinesAreTheFlagsWithTomlValues) {
  Paint p;
  EXPECT_EQ(toml_lines(prefixed("paint.", options(p))),
            "colour = \"red\"\ncoats = 2\ngloss = 0.5\nprimer = false\nlabel = \"a \\\"b\\\"\"\n"
            "walls = [1, 3]\nseed = \"18446744073709551615\"\n");
}

TEST(Options, StringChoicesAreChecked) {
  std::string model = "resnet";
  EXPECT_EQ(error_of([&] {
              check_limits({option("model", "model", model, "Model").with_choices({"mlp", "cnn"})});
            }),
            "model must be mlp or cnn, got 'resnet'");
}

}  // namespace
}  // namespace tide
