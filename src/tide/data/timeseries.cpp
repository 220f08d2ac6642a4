#include "tide/data/timeseries.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numbers>

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

std::vector<LabelledSeries> generate_series(const SeriesOptions& o) {
  TIDE_CHECK(o.series > 0, "--series must be positive, got {}", o.series);
  TIDE_CHECK(o.length >= 2, "--length must be at least 2, got {}", o.length);
  TIDE_CHECK(o.classes >= 1 && o.classes <= static_cast<int64_t>(series_shapes().size()),
             "--classes must be between 1 and {} (the shapes: sine, square, sawtooth, chirp, "
             "bursts, triangle, damped, steps), got {}",
             series_shapes().size(), o.classes);
  TIDE_CHECK(o.noise >= 0 && std::isfinite(o.noise), "--noise must be >= 0, got {}", o.noise);
  TIDE_CHECK(o.trend >= 0 && std::isfinite(o.trend), "--trend must be >= 0, got {}", o.trend);
  std::vector<LabelledSeries> all(static_cast<size_t>(o.series));
  for (int64_t i = 0; i < o.series; ++i) {
    RngStream rng(o.seed, RngPurpose::data, {static_cast<uint64_t>(i)});
    LabelledSeries& s = all[static_cast<size_t>(i)];
    s.label = i % o.classes;
    const double phase = rng.uniform_double();                     // where the pattern starts
    const double periods = 3 + 2 * rng.uniform_double();           // 3 to 5 over the series
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
  }
  return all;
}

void write_series_csv(const std::string& path, const std::vector<LabelledSeries>& series) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  TIDE_CHECK(f != nullptr, "{}: cannot create: {}", path, std::strerror(errno));
  std::string buffer = "series_id,t,value,label\n";
  bool ok = true;
  for (size_t i = 0; i < series.size() && ok; ++i) {
    for (size_t t = 0; t < series[i].values.size(); ++t)
      buffer += fmt::format("{},{},{:.6g},{}\n", i, t, series[i].values[t], series[i].label);
    ok = std::fwrite(buffer.data(), 1, buffer.size(), f) == buffer.size();
    buffer.clear();
  }
  ok = std::fclose(f) == 0 && ok;
  TIDE_CHECK(ok, "{}: write failed: {}", path, std::strerror(errno));
}

}  // namespace tide
