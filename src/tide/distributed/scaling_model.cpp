#include "tide/distributed/scaling_model.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <toml++/toml.h>

#include "tide/core/error.hpp"
#include "tide/core/read_file.hpp"
#include "tide/distributed/reducer.hpp"

namespace tide {
namespace {

int log2_floor(int n) {
  int l = 0;
  while ((2 << l) <= n) ++l;
  return l;
}

double positive(const toml::table& t, const std::string& path, const char* key) {
  const std::optional<double> v = t[key].value<double>();
  TIDE_CHECK(v.has_value(), "{}: '{}' is missing or not a number", path, key);
  TIDE_CHECK(std::isfinite(*v) && *v > 0, "{}: '{}' must be a positive number, got {}", path, key,
             *v);
  return *v;
}

}  // namespace

Network load_network(const std::string& name_or_path) {
  std::string path = name_or_path, text;
  bool shipped = false;
  if (name_or_path.find('/') == std::string::npos && name_or_path.find('.') == std::string::npos)
    for (const auto& [name, t] : shipped_network_texts())
      if (name == name_or_path) {
        path = fmt::format("networks/{}.toml (shipped)", name);
        text = t;
        shipped = true;
      }
  if (!shipped) {
    std::vector<std::string> names;
    for (const auto& [name, t] : shipped_network_texts()) names.emplace_back(name);
    TIDE_CHECK(std::filesystem::exists(path),
               "--network {}: no such file, nor a shipped network (shipped: {})", path,
               fmt::join(names, ", "));
    text = read_file_bytes(path, 1 << 20, "a network description (TOML)");
  }
  toml::table t;
  try {
    t = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    TIDE_FAIL("{}:{}: {}", path, e.source().begin.line, e.description());
  }
  for (const auto& [key, value] : t) {
    const std::string k(key.str());
    TIDE_CHECK(k == "name" || k == "description" || k == "topology" || k == "latency_us" ||
                   k == "bandwidth_gbs" || k == "sources",
               "{}: unknown key '{}' (known: name, description, topology, latency_us, "
               "bandwidth_gbs, sources)",
               path, k);
  }
  Network n;
  n.name = t["name"].value_or(std::string());
  TIDE_CHECK(!n.name.empty(), "{}: 'name' is missing", path);
  TIDE_CHECK(std::all_of(n.name.begin(), n.name.end(),
                         [](char c) {
                           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
                                  c == '_' || c == '.';
                         }),
             "{}: 'name' {} names output files: letters, digits, '-', '_' and '.' only", path,
             n.name);
  n.description = t["description"].value_or(std::string());
  n.topology = t["topology"].value_or(std::string());
  n.latency_s = positive(t, path, "latency_us") * 1e-6;
  n.bandwidth_bytes_per_s = positive(t, path, "bandwidth_gbs") * 1e9;
  if (const toml::array* sources = t["sources"].as_array())
    for (const toml::node& s : *sources) {
      const std::optional<std::string> v = s.value<std::string>();
      TIDE_CHECK(v.has_value(), "{}: 'sources' must be a list of strings", path);
      n.sources.push_back(*v);
    }
  TIDE_CHECK(!n.sources.empty(), "{}: 'sources' is missing: say where the figures come from", path);
  return n;
}

double allreduce_seconds(const Network& net, double bytes, int nodes) {
  TIDE_CHECK(nodes >= 1, "allreduce over {} nodes", nodes);
  if (nodes == 1) return 0;
  const double a = net.latency_s, inv_b = 1.0 / net.bandwidth_bytes_per_s;
  const int rounds = log2_floor(nodes);
  const int p = 1 << rounds;  // the power of two that takes part after folding
  const double fold = p == nodes ? 0.0 : 2 * (a + bytes * inv_b);  // in and back out
  const double doubling = rounds * (a + bytes * inv_b);
  const double rabenseifner = 2 * rounds * a + 2.0 * (p - 1) / p * bytes * inv_b;
  return fold + std::min(doubling, rabenseifner);
}

double allgather_seconds(const Network& net, double bytes_per_node, int nodes) {
  TIDE_CHECK(nodes >= 1, "allgather over {} nodes", nodes);
  if (nodes == 1) return 0;
  const int rounds = static_cast<int>(std::ceil(std::log2(static_cast<double>(nodes))));
  return rounds * net.latency_s + (nodes - 1) * bytes_per_node / net.bandwidth_bytes_per_s;
}

double MeasuredCollective::seconds(double bytes) const {
  TIDE_CHECK(!points.empty(), "no allreduce measured at {} ranks", ranks);
  if (points.size() == 1) return points[0].second;
  const double x = std::log(std::max(bytes, 1.0));
  size_t i = 1;
  while (i + 1 < points.size() && points[i].first < bytes) ++i;
  const double x0 = std::log(points[i - 1].first), x1 = std::log(points[i].first);
  const double y0 = std::log(points[i - 1].second), y1 = std::log(points[i].second);
  const double y = y0 + (y1 - y0) * (x - x0) / (x1 - x0);
  // Below the smallest size, the latency: a smaller message is no faster.
  return bytes <= points[0].first ? points[0].second : std::exp(y);
}

StepCompute step_compute(double forward, double backward, double apply, double other,
                         const std::vector<int64_t>& elements, int64_t element_bytes,
                         const ReducerOptions& options) {
  StepCompute s{.forward = forward,
                .backward = backward,
                .apply = apply,
                .other = other,
                .bucket_bytes = {},
                .ready_at = {},
                .overlap = options.overlap};
  int64_t total = 0;
  for (const int64_t e : elements) total += e;
  int64_t done = 0;
  for (const BucketLayout& b : bucket_layout(elements, element_bytes, options)) {
    done += b.elements;
    s.bucket_bytes.push_back(b.elements * element_bytes);
    s.ready_at.push_back(total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 1.0);
  }
  return s;
}

StepPrediction predict_step(const StepCompute& s, const std::function<double(double)>& allreduce,
                            double control) {
  StepPrediction p;
  p.compute = s.forward + s.backward + s.apply + s.other;
  p.control = control;
  const double backward_end = s.forward + s.backward;
  double end = backward_end;
  if (allreduce) {
    double free_at = s.forward;  // the Reducer's thread
    for (size_t b = 0; b < s.bucket_bytes.size(); ++b) {
      const double t = allreduce(static_cast<double>(s.bucket_bytes[b]));
      p.allreduce += t;
      const double ready = s.overlap ? s.forward + s.backward * s.ready_at[b] : backward_end;
      free_at = std::max(free_at, ready) + t;
    }
    end = std::max(backward_end, free_at);
  }
  p.exposed = end - backward_end;
  p.step = p.compute + p.exposed + p.control;
  return p;
}

StepsToTarget fit_steps_to_target(const std::vector<std::pair<double, double>>& batch_steps) {
  // S = a + c x with x = 1 / B.
  const double n = static_cast<double>(batch_steps.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const auto& [b, steps] : batch_steps) {
    TIDE_CHECK(b > 0 && steps > 0, "steps to target: batch {} and steps {} must be positive", b,
               steps);
    const double x = 1.0 / b;
    sx += x;
    sy += steps;
    sxx += x * x;
    sxy += x * steps;
  }
  const double var = n * sxx - sx * sx;
  TIDE_CHECK(batch_steps.size() >= 2 && var > 1e-18 * n * sxx,
             "steps to target: at least two different batch sizes that reached the target are "
             "needed, got {}",
             batch_steps.size());
  double c = (n * sxy - sx * sy) / var;
  double a = (sy - c * sx) / n;
  if (c < 0 || a <= 0) {  // no batch effect seen, or one so strong the floor is not: a mean
    c = std::max(c, 0.0);
    a = c == 0 ? sy / n : std::max(a, 1e-9);
  }
  return StepsToTarget{.s_min = a, .b_noise = c / a};
}

int diminishing_returns(const std::vector<int>& nodes, const std::vector<double>& seconds,
                        double gain) {
  TIDE_CHECK(!nodes.empty() && nodes.size() == seconds.size(),
             "diminishing returns: {} node counts and {} times", nodes.size(), seconds.size());
  for (size_t i = 0; i + 1 < nodes.size(); ++i)
    if (seconds[i + 1] > (1 - gain) * seconds[i]) return nodes[i];
  return nodes.back();
}

}  // namespace tide
