#include "tide/data/timeseries.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <numbers>
#include <string_view>

#include <fmt/format.h>

#include "tide/core/error.hpp"
#include "tide/core/rng.hpp"

namespace tide {
namespace {

// A shape at phase u (in periods; any real), amplitude 1, mean about 0;
// u0 is the phase at the start (the chirp's frequency grows from there).
double shape(int64_t kind, double u, double t01, double u0) {
  const double frac = u - std::floor(u);
  switch (kind) {
    case 0:  // sine
      return std::sin(2 * std::numbers::pi * u);
    case 1:  // square
      return frac < 0.5 ? 1.0 : -1.0;
    case 2:  // sawtooth
      return 2 * frac - 1;
    case 3:  // chirp: the frequency doubles over the series (u's phase at t01 = 0 is kept)
      return std::sin(2 * std::numbers::pi * (u + 0.5 * (u - u0) * t01));
    case 4:  // bursts: a short pulse of oscillation once a period, quiet between
      return frac < 0.25 ? std::sin(2 * std::numbers::pi * 8 * frac) : 0.0;
    case 5:  // triangle
      return frac < 0.5 ? 4 * frac - 1 : 3 - 4 * frac;
    case 6:  // damped oscillation, restarting every period
      return std::exp(-4 * frac) * std::cos(2 * std::numbers::pi * 4 * frac);
    default:  // steps: four levels a period
      return std::floor(frac * 4) / 1.5 - 1;
  }
}

}  // namespace

const std::vector<std::string>& series_shapes() {
  static const std::vector<std::string> names = {"sine",   "square",   "sawtooth", "chirp",
                                                 "bursts", "triangle", "damped",   "steps"};
  return names;
}

namespace {

void check_options(const SeriesOptions& o) {
  TIDE_CHECK(o.series > 0, "--series must be positive, got {}", o.series);
  // A series is made whole in memory before it is written.
  TIDE_CHECK(o.length >= 2 && o.length <= 100000000,
             "--length must be between 2 and 100000000 points, got {}", o.length);
  TIDE_CHECK(o.classes >= 1 && o.classes <= static_cast<int64_t>(series_shapes().size()),
             "--classes must be between 1 and {} (the shapes: sine, square, sawtooth, chirp, "
             "bursts, triangle, damped, steps), got {}",
             series_shapes().size(), o.classes);
  TIDE_CHECK(o.noise >= 0 && std::isfinite(o.noise), "--noise must be >= 0, got {}", o.noise);
  TIDE_CHECK(o.trend >= 0 && std::isfinite(o.trend), "--trend must be >= 0, got {}", o.trend);
  TIDE_CHECK(o.min_periods > 0 && o.max_periods >= o.min_periods && std::isfinite(o.max_periods),
             "--periods must be MIN,MAX with 0 < MIN <= MAX, got {},{}", o.min_periods,
             o.max_periods);
}

// Series i of `o` (options already checked).
LabelledSeries make_series(const SeriesOptions& o, int64_t i) {
  RngStream rng(o.seed, RngPurpose::data, {static_cast<uint64_t>(i)});
  LabelledSeries s;
  s.label = i % o.classes;
  const double phase = rng.uniform_double();  // where the pattern starts
  const double periods = o.min_periods + (o.max_periods - o.min_periods) * rng.uniform_double();
  const double amplitude = 0.5 + rng.uniform_double();           // 0.5 to 1.5
  const double rise = o.trend * (2 * rng.uniform_double() - 1);  // total trend
  const double offset = 0.5 * (2 * rng.uniform_double() - 1);
  s.values.resize(static_cast<size_t>(o.length));
  for (int64_t t = 0; t < o.length; ++t) {
    const double t01 = static_cast<double>(t) / static_cast<double>(o.length - 1);
    s.values[static_cast<size_t>(t)] =
        offset + rise * t01 + amplitude * shape(s.label, phase + periods * t01, t01, phase) +
        o.noise * rng.normal();
  }
  return s;
}

// Writes series first, first + 1, ... through `series_at(i)`, a buffer at a time.
template <typename SeriesAt>
void write_csv(const std::string& path, int64_t count, SeriesAt series_at) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  TIDE_CHECK(f != nullptr, "{}: cannot create: {}", path, std::strerror(errno));
  std::string buffer = "series_id,t,value,label\n";
  bool ok = true;
  for (int64_t i = 0; i < count && ok; ++i) {
    const LabelledSeries& s = series_at(i);
    for (size_t t = 0; t < s.values.size(); ++t)
      fmt::format_to(std::back_inserter(buffer), "{},{},{:.6g},{}\n", i, t, s.values[t], s.label);
    ok = std::fwrite(buffer.data(), 1, buffer.size(), f) == buffer.size();
    buffer.clear();
  }
  ok = std::fclose(f) == 0 && ok;
  TIDE_CHECK(ok, "{}: write failed: {}", path, std::strerror(errno));
}

}  // namespace

std::vector<LabelledSeries> generate_series(const SeriesOptions& o) {
  check_options(o);
  std::vector<LabelledSeries> all;
  all.reserve(static_cast<size_t>(o.series));
  for (int64_t i = 0; i < o.series; ++i) all.push_back(make_series(o, i));
  return all;
}

void write_series_csv(const std::string& path, const std::vector<LabelledSeries>& series) {
  write_csv(path, static_cast<int64_t>(series.size()),
            [&](int64_t i) -> const LabelledSeries& { return series[static_cast<size_t>(i)]; });
}

void generate_series_csv(const std::string& path, const SeriesOptions& options) {
  check_options(options);
  LabelledSeries current;
  write_csv(path, options.series, [&](int64_t i) -> const LabelledSeries& {
    current = make_series(options, i);
    return current;
  });
}

namespace {

// The fields of a line split at commas, each trimmed of spaces and of surrounding quotes.
void split_fields(std::string_view line, std::vector<std::string_view>& fields) {
  fields.clear();
  size_t start = 0;
  while (true) {
    const size_t comma = line.find(',', start);
    std::string_view f =
        line.substr(start, comma == std::string_view::npos ? line.npos : comma - start);
    while (!f.empty() && (f.front() == ' ' || f.front() == '\t')) f.remove_prefix(1);
    while (!f.empty() && (f.back() == ' ' || f.back() == '\t')) f.remove_suffix(1);
    if (f.size() >= 2 && f.front() == '"' && f.back() == '"') f = f.substr(1, f.size() - 2);
    fields.push_back(f);
    if (comma == std::string_view::npos) return;
    start = comma + 1;
  }
}

template <typename T>
bool parse_whole(std::string_view f, T& v) {
  if (!f.empty() && f.front() == '+') f.remove_prefix(1);
  const auto [end, ec] = std::from_chars(f.data(), f.data() + f.size(), v);
  return ec == std::errc() && end == f.data() + f.size() && !f.empty();
}

}  // namespace

SeriesCsvReader::SeriesCsvReader(std::string path) : path_(std::move(path)) {
  file_ = std::fopen(path_.c_str(), "r");
  TIDE_CHECK(file_ != nullptr, "{}: cannot open: {}", path_, std::strerror(errno));
  try {
    has_pending_ = read_row(pending_);  // the header, and labelled() known from here
  } catch (...) {
    std::free(buffer_);  // no destructor runs for a constructor that throws
    std::fclose(file_);
    throw;
  }
}

SeriesCsvReader::~SeriesCsvReader() {
  std::free(buffer_);
  if (file_ != nullptr) std::fclose(file_);
}

bool SeriesCsvReader::read_row(Row& row) {
  std::vector<std::string_view> fields;
  while (true) {
    errno = 0;
    const ssize_t n = ::getline(&buffer_, &capacity_, file_);
    if (n < 0) {
      TIDE_CHECK(std::feof(file_), "{}: read failed after line {}: {}", path_, line_,
                 std::strerror(errno));
      TIDE_CHECK(line_ > 0, "{}: the file is empty, expected series_id,t,value[,label] rows",
                 path_);
      return false;
    }
    ++line_;
    std::string_view text(buffer_, static_cast<size_t>(n));
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    if (line_ == 1 && text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // a BOM
    if (text.find_first_not_of(" \t") == std::string_view::npos) continue;      // blank
    split_fields(text, fields);
    if (columns_ == 0) {  // the first line: a header or the first row
      double first = 0;
      if (!parse_whole(fields[0], first)) {
        id_column_ = t_column_ = value_column_ = -1;
        for (size_t i = 0; i < fields.size(); ++i) {
          const std::string_view f = fields[i];
          int* slot = f == "series_id" ? &id_column_
                      : f == "t"       ? &t_column_
                      : f == "value"   ? &value_column_
                      : f == "label"   ? &label_column_
                                       : nullptr;
          if (slot == nullptr) continue;
          TIDE_CHECK(*slot < 0, "{}: line 1: column '{}' appears twice in the header", path_, f);
          *slot = static_cast<int>(i);
        }
        for (const auto& [slot, name] :
             {std::pair{id_column_, "series_id"}, {t_column_, "t"}, {value_column_, "value"}})
          TIDE_CHECK(slot >= 0,
                     "{}: line 1: the header has no column '{}'; expected series_id,t,value and "
                     "optionally label",
                     path_, name);
        columns_ = static_cast<int>(fields.size());
        continue;
      }
      TIDE_CHECK(fields.size() == 3 || fields.size() == 4,
                 "{}: line {}: {} columns and no header; expected series_id,t,value[,label]", path_,
                 line_, fields.size());
      columns_ = static_cast<int>(fields.size());
      if (columns_ == 4) label_column_ = 3;
    }
    TIDE_CHECK(static_cast<int>(fields.size()) == columns_, "{}: line {}: {} columns, expected {}",
               path_, line_, fields.size(), columns_);
    const auto bad = [&](int column, const char* name, const char* expected) {
      TIDE_FAIL("{}: line {}, column {} ({}): '{}' is not {}", path_, line_, column + 1, name,
                fields[static_cast<size_t>(column)], expected);
    };
    if (!parse_whole(fields[static_cast<size_t>(id_column_)], row.series_id))
      bad(id_column_, "series_id", "an integer id");
    if (!parse_whole(fields[static_cast<size_t>(t_column_)], row.t) || !std::isfinite(row.t))
      bad(t_column_, "t", "a finite number");
    double v = 0;
    if (!parse_whole(fields[static_cast<size_t>(value_column_)], v) || !std::isfinite(v) ||
        std::abs(v) > std::numeric_limits<float>::max())
      bad(value_column_, "value", "a finite number within float range");
    row.value = static_cast<float>(v);
    row.label = -1;
    if (label_column_ >= 0 &&
        (!parse_whole(fields[static_cast<size_t>(label_column_)], row.label) || row.label < 0))
      bad(label_column_, "label", "a non-negative integer");
    ++rows_;
    return true;
  }
}

bool SeriesCsvReader::next(CsvSeries& out) {
  if (!has_pending_ && !read_row(pending_)) return false;
  has_pending_ = false;
  out.series_id = pending_.series_id;
  out.label = pending_.label;
  out.t0 = pending_.t;
  out.line = line_;
  out.values.assign(1, pending_.value);
  TIDE_CHECK(seen_.insert(out.series_id).second,
             "{}: line {}: series {} appears again after other series; a series' rows must be "
             "consecutive (sort the file by series_id, then t)",
             path_, line_, out.series_id);
  double last_t = pending_.t;
  Row row;
  while (read_row(row)) {
    if (row.series_id != out.series_id) {
      pending_ = row;
      has_pending_ = true;
      break;
    }
    TIDE_CHECK(row.t > last_t,
               "{}: line {}: t = {} in series {} does not increase on the row before (t = {}); "
               "sort the file by series_id, then t",
               path_, line_, row.t, out.series_id, last_t);
    TIDE_CHECK(row.label == out.label,
               "{}: line {}: label {} in series {}, whose first row (line {}) has label {}", path_,
               line_, row.label, out.series_id, out.line, out.label);
    last_t = row.t;
    out.values.push_back(row.value);
  }
  return true;
}

}  // namespace tide
