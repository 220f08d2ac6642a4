// Numeric tables from CSV files: the input of `tide fit` and `tide kmeans`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tide {

// A table of numbers read from a CSV file, by column.
struct CsvTable {
  std::string path;
  std::vector<std::string> names;            // the header, or "1", "2", ... without one
  std::vector<std::vector<double>> columns;  // columns[c][r]
  std::vector<int64_t> lines;                // the file's line number of each row

  int64_t rows() const { return static_cast<int64_t>(lines.size()); }
  // The index of a column given by name or by 1-based number. Throws naming the file and
  // listing the columns when there is no such column.
  size_t index_of(const std::string& column) const;
  const std::vector<double>& column(const std::string& name) const {
    return columns[index_of(name)];
  }
};

// Reads a comma-separated file of numbers. The first line is a header of column names
// unless every field on it is a number. Blank lines and lines starting with '#' are skipped
// (a header written as "# x,y" is a comment); fields may have spaces around them and be in
// double quotes (with commas inside, "" for a quote); a UTF-8 byte-order mark is dropped.
// Throws tide::Error naming the file for a directory or a failed read (with the system's
// reason), and naming the file, the line and the column for: an empty file (or a
// header and no rows), a header with an empty or repeated name, an unclosed quote, a row with
// another number of fields than the first, an empty field, a field that is not a number or
// out of a double's range, NaN or infinity.
CsvTable read_csv(const std::string& path);

}  // namespace tide
