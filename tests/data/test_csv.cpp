// CSV tables: header or none, columns by name or number, and every malformed input named
// by file, line and column.
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"

#include "tide/data/csv.hpp"

namespace tide {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using tide::testing::error_of;

std::string write_csv(const std::string& name, const std::string& text) {
  const fs::path dir = fs::path(::testing::TempDir()) / "tide_csv_test";
  fs::create_directories(dir);
  const std::string path = (dir / name).string();
  std::ofstream(path) << text;
  return path;
}

TEST(Csv, ReadsAHeaderAndColumns) {
  const CsvTable t =
      read_csv(write_csv("ok.csv", "# a comment\ntime, \"value\"\n0, 1.5\n\n1,-2e-3\r\n2 , +4\n"));
  EXPECT_EQ(t.names, (std::vector<std::string>{"time", "value"}));
  ASSERT_EQ(t.rows(), 3);
  EXPECT_EQ(t.column("time"), (std::vector<double>{0, 1, 2}));
  EXPECT_EQ(t.column("value"), (std::vector<double>{1.5, -2e-3, 4}));
  EXPECT_EQ(t.column("2"), t.column("value"));  // by number
  EXPECT_EQ(t.lines, (std::vector<int64_t>{3, 5, 6}));
}

TEST(Csv, WithoutAHeaderColumnsAreNumbered) {
  const CsvTable t = read_csv(write_csv("plain.csv", "1,2\n3,4\n"));
  EXPECT_EQ(t.names, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(t.column("1"), (std::vector<double>{1, 3}));
}

TEST(Csv, QuotesAndAByteOrderMark) {
  const CsvTable t = read_csv(write_csv(
      "quoted.csv", "\xEF\xBB\xBF\"height, m\",\"say \"\"hi\"\"\"\n\"1.5\", 2\n 3 ,\"-4\"\n"));
  EXPECT_EQ(t.names, (std::vector<std::string>{"height, m", "say \"hi\""}));
  EXPECT_EQ(t.column("height, m"), (std::vector<double>{1.5, 3}));
  EXPECT_EQ(t.column("say \"hi\""), (std::vector<double>{2, -4}));
  // A byte-order mark before numbers: still a file without a header.
  const std::string bom_then_numbers = std::string("\xEF\xBB\xBF") + "1,2\n3,4\n";
  EXPECT_EQ(read_csv(write_csv("bom.csv", bom_then_numbers)).rows(), 2);
}

TEST(Csv, MalformedInputNamesTheFileLineAndColumn) {
  EXPECT_THAT(error_of([] { read_csv(write_csv("open.csv", "x,y\n1,\"2\n")); }),
              HasSubstr("open.csv: line 2: a quoted field is not closed"));
  EXPECT_THAT(error_of([] { read_csv(write_csv("same.csv", "x,x\n1,2\n")); }),
              HasSubstr("line 1: columns 1 and 2 of the header are both named 'x'"));
  EXPECT_THAT(error_of([] { read_csv(write_csv("gap.csv", "x,y\n1,\n")); }),
              HasSubstr("gap.csv: line 2, column 'y': the field is empty (a missing value)"));
  EXPECT_THAT(error_of([] { read_csv(write_csv("huge.csv", "x,y\n1,1e999\n")); }),
              HasSubstr("line 2, column 'y': 1e999 is out of the range of a double"));
  EXPECT_THAT(error_of([] { read_csv(write_csv("signs.csv", "x,y\n1,+-3\n")); }),
              HasSubstr("'+-3' is not a number"));
  EXPECT_THAT(error_of([] { read_csv(::testing::TempDir()); }), HasSubstr("is a directory"));
  const std::string bad = write_csv("bad.csv", "x,y\n1,2\n3,abc\n");
  EXPECT_THAT(error_of([&] { read_csv(bad); }),
              HasSubstr("bad.csv: line 3, column 'y': 'abc' is not a number"));
  EXPECT_THAT(error_of([] { read_csv(write_csv("nan.csv", "x,y\n1,2\n2,nan\n")); }),
              HasSubstr("nan.csv: line 3, column 'y': nan is not a finite number"));
  EXPECT_THAT(error_of([] { read_csv(write_csv("ragged.csv", "x,y\n1,2\n3\n")); }),
              HasSubstr("ragged.csv: line 3 has 1 field, expected 2 (x, y)"));
  EXPECT_THAT(error_of([] { read_csv(write_csv("empty.csv", "")); }), HasSubstr("is empty"));
  EXPECT_THAT(error_of([] { read_csv(write_csv("header.csv", "x,y\n")); }),
              HasSubstr("has a header (x, y) but no rows"));
  EXPECT_THAT(error_of([] { read_csv(write_csv("blank.csv", "x,,y\n1,2,3\n")); }),
              HasSubstr("line 1: column 2 of the header has no name"));
  const CsvTable t = read_csv(write_csv("two.csv", "x,y\n1,2\n"));
  EXPECT_THAT(error_of([&] { t.column("z"); }),
              HasSubstr("has no column 'z'; its columns are x, y (or 1 to 2 by number)"));
  EXPECT_THAT(error_of([&] { t.column("3"); }), HasSubstr("no column '3'"));
  EXPECT_THAT(error_of([] { read_csv("/nonexistent/data.csv"); }),
              HasSubstr("/nonexistent/data.csv: cannot open"));
}

// Every value a reader cannot hold as a finite double, in any column, with or without a
// header: refused by file, line and column.
TEST(Csv, ValuesBeyondADoubleOrNotFiniteAreRefusedByPlace) {
  for (const std::string value :
       {"1e999", "-1e400", "1e-400", "nan", "-nan", "inf", "-inf", "+inf", "infinity", "NaN"}) {
    const std::string path = write_csv("value.csv", "a,b,c\n1,2,3\n4,5," + value + "\n");
    const std::string message = error_of([&] { read_csv(path); });
    EXPECT_THAT(message, HasSubstr("value.csv: line 3, column 'c': " + value)) << value;
    EXPECT_THAT(message, ::testing::AnyOf(HasSubstr("out of the range of a double"),
                                          HasSubstr("is not a finite number")))
        << value;
    const std::string plain = write_csv("plain_value.csv", value + ",1\n2,3\n");
    EXPECT_THAT(error_of([&] { read_csv(plain); }),
                HasSubstr("plain_value.csv: line 1, column '1': " + value))
        << value;
  }
}

TEST(Csv, ReadErrorsNameThePathAndTheReason) {
  // /proc/self/mem is a regular file whose read at offset 0 fails with EIO.
  const std::string eio = (fs::path(::testing::TempDir()) / "tide_csv_test" / "eio.csv").string();
  fs::create_directories(fs::path(eio).parent_path());
  fs::remove(eio);
  fs::create_symlink("/proc/self/mem", eio);
  EXPECT_THAT(error_of([&] { read_csv(eio); }),
              HasSubstr("eio.csv: read failed after line 0: Input/output error"));
}

}  // namespace
}  // namespace tide
