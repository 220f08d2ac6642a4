#include "tide/train/kmeans.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include <fmt/format.h>

#include "tide/core/error.hpp"
#include "tide/core/rng.hpp"

namespace tide {
namespace {

double squared_distance(const double* a, const double* b, int64_t d) {
  double s = 0;
  for (int64_t j = 0; j < d; ++j) s += (a[j] - b[j]) * (a[j] - b[j]);
  return s;
}

// The nearest of k centroids and the squared distance to it.
std::pair<int64_t, double> nearest(const double* p, const std::vector<double>& c, int64_t k,
                                   int64_t d) {
  int64_t best = 0;
  double best_d = std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < k; ++j) {
    const double dist = squared_distance(p, c.data() + j * d, d);
    if (dist < best_d) {
      best_d = dist;
      best = j;
    }
  }
  return {best, best_d};
}

// Point counts of every rank, in rank order.
std::vector<int64_t> counts_of(int64_t n, const Communicator& comm) {
  std::vector<double> all(static_cast<size_t>(comm.size()), 0.0);
  all[static_cast<size_t>(comm.rank())] = static_cast<double>(n);
  comm.allreduce(all.data(), static_cast<int64_t>(all.size()), ReduceOp::sum,
                 "the point counts of k-means");
  std::vector<int64_t> counts;
  for (const double v : all) counts.push_back(static_cast<int64_t>(v));
  return counts;
}

// Rank `owner`'s point `index`, on every rank.
std::vector<double> point_from(const std::vector<double>& points, int64_t d, int owner,
                               int64_t index, const Communicator& comm) {
  std::vector<double> p(static_cast<size_t>(d), 0.0);
  if (comm.rank() == owner)
    std::copy(points.begin() + index * d, points.begin() + (index + 1) * d, p.begin());
  // A sum in which only the owner contributes: a broadcast that needs no tensor.
  comm.allreduce(p.data(), d, ReduceOp::sum, "a k-means++ centre");
  return p;
}

}  // namespace

std::vector<int64_t> nearest_centroids(const std::vector<double>& points, int64_t d,
                                       const std::vector<double>& centroids) {
  const int64_t n = static_cast<int64_t>(points.size()) / d,
                k = static_cast<int64_t>(centroids.size()) / d;
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    out[static_cast<size_t>(i)] = nearest(points.data() + i * d, centroids, k, d).first;
  return out;
}

std::vector<double> kmeans_plus_plus(const std::vector<double>& points, int64_t d, int64_t k,
                                     uint64_t seed, const Communicator& comm) {
  const int64_t n = static_cast<int64_t>(points.size()) / d;
  const std::vector<int64_t> counts = counts_of(n, comm);
  int64_t total = 0;
  for (const int64_t c : counts) total += c;
  TIDE_CHECK(total >= k, "k-means: {} points cannot make {} clusters", total, k);
  RngStream rng(seed, RngPurpose::init, {0x6b6d});  // the same draws on every rank
  // Global index g -> (rank, local index).
  const auto locate = [&](int64_t g) {
    int r = 0;
    while (g >= counts[static_cast<size_t>(r)]) g -= counts[static_cast<size_t>(r++)];
    return std::pair{r, g};
  };
  std::vector<double> centres;
  const auto [r0, i0] = locate(static_cast<int64_t>(rng.below(static_cast<uint64_t>(total))));
  std::vector<double> first = point_from(points, d, r0, i0, comm);
  centres.insert(centres.end(), first.begin(), first.end());
  std::vector<double> closest(static_cast<size_t>(n), std::numeric_limits<double>::infinity());
  for (int64_t c = 1; c < k; ++c) {
    const double* newest = centres.data() + (c - 1) * d;
    double local = 0;
    for (int64_t i = 0; i < n; ++i) {
      closest[static_cast<size_t>(i)] = std::min(
          closest[static_cast<size_t>(i)], squared_distance(points.data() + i * d, newest, d));
      local += closest[static_cast<size_t>(i)];
    }
    std::vector<double> sums(static_cast<size_t>(comm.size()), 0.0);
    sums[static_cast<size_t>(comm.rank())] = local;
    comm.allreduce(sums.data(), static_cast<int64_t>(sums.size()), ReduceOp::sum,
                   "the k-means++ weights");
    double all = 0;
    for (const double s : sums) all += s;
    int owner = 0;
    int64_t index = 0;
    if (all <= 0) {  // every point sits on a centre: any point will do
      std::tie(owner, index) =
          locate(static_cast<int64_t>(rng.below(static_cast<uint64_t>(total))));
    } else {
      double target = rng.uniform_double() * all;
      while (owner + 1 < comm.size() && (target >= sums[static_cast<size_t>(owner)] ||
                                         counts[static_cast<size_t>(owner)] == 0)) {
        target -= sums[static_cast<size_t>(owner)];
        ++owner;
      }
      // Only the owner can walk its points; it shares the index it found.
      std::vector<double> found(1, 0.0);
      if (comm.rank() == owner) {
        int64_t i = 0;
        for (; i + 1 < n; ++i) {
          if (target < closest[static_cast<size_t>(i)]) break;
          target -= closest[static_cast<size_t>(i)];
        }
        found[0] = static_cast<double>(i);
      }
      comm.allreduce(found.data(), 1, ReduceOp::sum, "the k-means++ draw");
      index = static_cast<int64_t>(found[0]);
    }
    std::vector<double> next = point_from(points, d, owner, index, comm);
    centres.insert(centres.end(), next.begin(), next.end());
  }
  return centres;
}

KMeansResult kmeans(const std::vector<double>& points, int64_t d, const KMeansOptions& o,
                    const Communicator& comm) {
  TIDE_CHECK(d > 0 && o.k > 0, "k-means needs d > 0 and k > 0, got d = {}, k = {}", d, o.k);
  return kmeans_from(points, d, kmeans_plus_plus(points, d, o.k, o.seed, comm), o, comm);
}

KMeansResult kmeans_from(const std::vector<double>& points, int64_t d,
                         std::vector<double> centroids, const KMeansOptions& o,
                         const Communicator& comm) {
  const int64_t k = static_cast<int64_t>(centroids.size()) / d;
  TIDE_CHECK(d > 0 && k > 0 && static_cast<int64_t>(centroids.size()) == k * d &&
                 static_cast<int64_t>(points.size()) % d == 0,
             "k-means: {} centroid values and {} point values do not make rows of {}",
             centroids.size(), points.size(), d);
  TIDE_CHECK(o.max_iterations > 0 && o.tolerance >= 0,
             "--max-iterations must be positive and --tolerance >= 0, got {} and {}",
             o.max_iterations, o.tolerance);
  const int64_t n = static_cast<int64_t>(points.size()) / d;
  // The tolerance in the data's units: the mean over dimensions of their variance.
  std::vector<double> moments(static_cast<size_t>(2 * d + 1), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) {
      const double v = points[static_cast<size_t>(i * d + j)];
      moments[static_cast<size_t>(j)] += v;
      moments[static_cast<size_t>(d + j)] += v * v;
    }
  moments[static_cast<size_t>(2 * d)] = static_cast<double>(n);
  comm.allreduce(moments.data(), 2 * d + 1, ReduceOp::sum, "the data's variance");
  const double total = moments[static_cast<size_t>(2 * d)];
  double variance = 0;
  for (int64_t j = 0; j < d; ++j) {
    const double mean = moments[static_cast<size_t>(j)] / total;
    variance += moments[static_cast<size_t>(d + j)] / total - mean * mean;
  }
  const double tolerance = o.tolerance * variance / static_cast<double>(d);

  KMeansResult r;
  r.assignment.assign(static_cast<size_t>(n), -1);
  std::vector<double> sums(static_cast<size_t>(k * d + k + 2));
  for (r.iterations = 1; r.iterations <= o.max_iterations; ++r.iterations) {
    std::fill(sums.begin(), sums.end(), 0.0);
    double changed = 0, inertia = 0;
    for (int64_t i = 0; i < n; ++i) {
      const auto [c, dist] = nearest(points.data() + i * d, centroids, k, d);
      if (r.assignment[static_cast<size_t>(i)] != c) changed += 1;
      r.assignment[static_cast<size_t>(i)] = c;
      inertia += dist;
      for (int64_t j = 0; j < d; ++j)
        sums[static_cast<size_t>(c * d + j)] += points[static_cast<size_t>(i * d + j)];
      sums[static_cast<size_t>(k * d + c)] += 1;
    }
    sums[static_cast<size_t>(k * d + k)] = changed;
    sums[static_cast<size_t>(k * d + k + 1)] = inertia;
    comm.allreduce(sums.data(), static_cast<int64_t>(sums.size()), ReduceOp::sum,
                   fmt::format("k-means iteration {}", r.iterations));
    r.inertia = sums[static_cast<size_t>(k * d + k + 1)];
    if (sums[static_cast<size_t>(k * d + k)] == 0) break;  // no point moved: converged
    double shift = 0;
    for (int64_t c = 0; c < k; ++c) {
      const double count = sums[static_cast<size_t>(k * d + c)];
      if (count == 0) continue;  // an empty cluster keeps its centroid
      for (int64_t j = 0; j < d; ++j) {
        const double next = sums[static_cast<size_t>(c * d + j)] / count;
        shift += (next - centroids[static_cast<size_t>(c * d + j)]) *
                 (next - centroids[static_cast<size_t>(c * d + j)]);
        centroids[static_cast<size_t>(c * d + j)] = next;
      }
    }
    if (shift <= tolerance) {
      // Assign once more to the moved centroids, so assignment and inertia match them.
      double inertia_after = 0;
      for (int64_t i = 0; i < n; ++i) {
        const auto [c, dist] = nearest(points.data() + i * d, centroids, k, d);
        r.assignment[static_cast<size_t>(i)] = c;
        inertia_after += dist;
      }
      comm.allreduce(&inertia_after, 1, ReduceOp::sum, "the final k-means inertia");
      r.inertia = inertia_after;
      break;
    }
  }
  r.iterations = std::min(r.iterations, o.max_iterations);
  r.centroids = std::move(centroids);
  std::vector<double> sizes(static_cast<size_t>(k), 0.0);
  for (const int64_t c : r.assignment) sizes[static_cast<size_t>(c)] += 1;
  comm.allreduce(sizes.data(), k, ReduceOp::sum, "the k-means cluster sizes");
  for (const double s : sizes) r.sizes.push_back(static_cast<int64_t>(s));
  return r;
}

double silhouette(const std::vector<double>& points, int64_t d,
                  const std::vector<int64_t>& labels) {
  const auto n = static_cast<int64_t>(labels.size());
  TIDE_CHECK(static_cast<int64_t>(points.size()) == n * d,
             "silhouette: {} values for {} points of {} dimensions", points.size(), n, d);
  std::map<int64_t, int64_t> index;
  for (const int64_t l : labels) index.emplace(l, static_cast<int64_t>(index.size()));
  const auto clusters = static_cast<int64_t>(index.size());
  TIDE_CHECK(clusters >= 2 && clusters < n,
             "the silhouette needs between 2 and n - 1 clusters, got {} for {} points", clusters,
             n);
  std::vector<int64_t> size(static_cast<size_t>(clusters), 0), of(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    of[static_cast<size_t>(i)] = index.at(labels[static_cast<size_t>(i)]);
    ++size[static_cast<size_t>(of[static_cast<size_t>(i)])];
  }
  double total = 0;
  std::vector<double> sum(static_cast<size_t>(clusters));
  for (int64_t i = 0; i < n; ++i) {
    std::fill(sum.begin(), sum.end(), 0.0);
    for (int64_t j = 0; j < n; ++j)
      sum[static_cast<size_t>(of[static_cast<size_t>(j)])] +=
          std::sqrt(squared_distance(points.data() + i * d, points.data() + j * d, d));
    const int64_t own = of[static_cast<size_t>(i)];
    if (size[static_cast<size_t>(own)] == 1) continue;  // alone: 0
    const double a =
        sum[static_cast<size_t>(own)] / static_cast<double>(size[static_cast<size_t>(own)] - 1);
    double b = std::numeric_limits<double>::infinity();
    for (int64_t c = 0; c < clusters; ++c)
      if (c != own)
        b = std::min(
            b, sum[static_cast<size_t>(c)] / static_cast<double>(size[static_cast<size_t>(c)]));
    total += (b - a) / std::max(a, b);
  }
  return total / static_cast<double>(n);
}

namespace {

// The contingency table of two labellings: counts of (a, b) pairs, and the row and column sums.
struct Contingency {
  std::map<std::pair<int64_t, int64_t>, double> cells;
  std::map<int64_t, double> rows, columns;
  double n = 0;
};

Contingency contingency(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  TIDE_CHECK(a.size() == b.size() && !a.empty(), "comparing labellings of {} and {} points",
             a.size(), b.size());
  Contingency t;
  for (size_t i = 0; i < a.size(); ++i) {
    t.cells[{a[i], b[i]}] += 1;
    t.rows[a[i]] += 1;
    t.columns[b[i]] += 1;
  }
  t.n = static_cast<double>(a.size());
  return t;
}

double pairs(double x) {
  return x * (x - 1) / 2;
}

}  // namespace

double adjusted_rand_index(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  const Contingency t = contingency(a, b);
  double index = 0, row_pairs = 0, column_pairs = 0;
  for (const auto& [cell, count] : t.cells) index += pairs(count);
  for (const auto& [label, count] : t.rows) row_pairs += pairs(count);
  for (const auto& [label, count] : t.columns) column_pairs += pairs(count);
  const double expected = row_pairs * column_pairs / pairs(t.n);
  const double maximum = (row_pairs + column_pairs) / 2;
  if (maximum == expected) return 1.0;  // both trivial (one cluster, or all singletons)
  return (index - expected) / (maximum - expected);
}

double normalized_mutual_information(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  const Contingency t = contingency(a, b);
  const auto entropy = [&](const std::map<int64_t, double>& m) {
    double h = 0;
    for (const auto& [label, count] : m) h -= count / t.n * std::log(count / t.n);
    return h;
  };
  double mi = 0;
  for (const auto& [cell, count] : t.cells)
    mi += count / t.n * std::log(count * t.n / (t.rows.at(cell.first) * t.columns.at(cell.second)));
  const double ha = entropy(t.rows), hb = entropy(t.columns);
  if (ha == 0 && hb == 0) return 1.0;  // one cluster each: identical
  return mi / ((ha + hb) / 2);
}

}  // namespace tide
