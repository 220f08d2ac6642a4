#include "tide/cluster/kmeans.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <set>

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

// Values of all ranks far from 1 in size make squared distances (and the sums of the
// variance) overflow to inf, or underflow to 0, and inf - inf is NaN. This is the power of
// two (exact to multiply by) that brings the largest magnitude over the ranks near 1 when it
// is beyond 1e100 or below 1e-100, and 1 otherwise. Throws, on every rank, when a value is
// not finite.
double common_scale(const std::vector<double>& points, const Communicator& comm) {
  // [largest magnitude, any value not finite], the largest over the ranks.
  std::array<double, 2> m = {0, 0};
  size_t bad = points.size();
  for (size_t i = 0; i < points.size(); ++i) {
    if (!std::isfinite(points[i])) {
      m[1] = 1;
      if (bad == points.size()) bad = i;
    } else {
      m[0] = std::max(m[0], std::abs(points[i]));
    }
  }
  comm.allreduce(m.data(), 2, ReduceOp::max, "the range of the k-means points");
  if (m[1] != 0)
    TIDE_FAIL(
        "k-means: {}",
        bad < points.size()
            ? fmt::format(
                  "value {} of this rank's points is {}, not finite: every coordinate must be "
                  "a finite number",
                  bad, points[bad])
            : std::string("another rank's points hold a value that is not finite"));
  if (m[0] == 0 || (m[0] <= 1e100 && m[0] >= 1e-100)) return 1.0;
  int exponent = 0;
  std::frexp(m[0], &exponent);
  return std::ldexp(1.0, -exponent);
}

std::vector<double> scaled(std::vector<double> v, double scale) {
  for (double& x : v) x *= scale;
  return v;
}

}  // namespace

std::vector<int64_t> nearest_centroids(const std::vector<double>& points, int64_t d,
                                       const std::vector<double>& centroids) {
  TIDE_CHECK(d > 0 && !centroids.empty(), "nearest centroid: d = {} and {} centroid values", d,
             centroids.size());
  // The centroids lie among the points: the points' scale keeps both in range.
  if (const double scale = common_scale(points, Communicator::solo()); scale != 1.0)
    return nearest_centroids(scaled(points, scale), d, scaled(centroids, scale));
  const int64_t n = static_cast<int64_t>(points.size()) / d,
                k = static_cast<int64_t>(centroids.size()) / d;
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    out[static_cast<size_t>(i)] = nearest(points.data() + i * d, centroids, k, d).first;
  return out;
}

std::vector<double> kmeans_plus_plus(const std::vector<double>& points, int64_t d, int64_t k,
                                     uint64_t seed, const Communicator& comm) {
  TIDE_CHECK(d > 0 && k > 0, "k-means++ needs d > 0 and k > 0, got d = {}, k = {}", d, k);
  const int64_t n = static_cast<int64_t>(points.size()) / d;
  const std::vector<int64_t> counts = counts_of(n, comm);
  int64_t total = 0;
  for (const int64_t c : counts) total += c;
  TIDE_CHECK(total >= k, "k-means: {} points cannot make {} clusters", total, k);
  if (const double scale = common_scale(points, comm); scale != 1.0)
    return scaled(kmeans_plus_plus(scaled(points, scale), d, k, seed, comm), 1.0 / scale);
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
      int last = 0;  // the last rank with any weight: where rounding may leave the draw
      for (int q = 0; q < comm.size(); ++q)
        if (sums[static_cast<size_t>(q)] > 0) last = q;
      while (owner < last && target >= sums[static_cast<size_t>(owner)]) {
        target -= sums[static_cast<size_t>(owner)];
        ++owner;
      }
      while (sums[static_cast<size_t>(owner)] <= 0) ++owner;
      // Only the owner can walk its points; it shares the index it found.
      std::vector<double> found(1, 0.0);
      if (comm.rank() == owner) {
        int64_t i = 0, heaviest_last = 0;
        for (int64_t j = 0; j < n; ++j)
          if (closest[static_cast<size_t>(j)] > 0) heaviest_last = j;
        for (; i < heaviest_last; ++i) {
          if (target < closest[static_cast<size_t>(i)] && closest[static_cast<size_t>(i)] > 0)
            break;
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

namespace {

// The tolerance in the data's units: `relative` times the mean over dimensions of the data's
// variance, in two passes (the mean first), which stays exact for data far from 0.
double absolute_tolerance(const std::vector<double>& points, int64_t d, double relative,
                          const Communicator& comm) {
  const int64_t n = static_cast<int64_t>(points.size()) / d;
  std::vector<double> sums(static_cast<size_t>(d + 1), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j)
      sums[static_cast<size_t>(j)] += points[static_cast<size_t>(i * d + j)];
  sums[static_cast<size_t>(d)] = static_cast<double>(n);
  comm.allreduce(sums.data(), d + 1, ReduceOp::sum, "the data's mean");
  const double total = sums[static_cast<size_t>(d)];
  double variance = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) {
      const double v =
          points[static_cast<size_t>(i * d + j)] - sums[static_cast<size_t>(j)] / total;
      variance += v * v;
    }
  comm.allreduce(&variance, 1, ReduceOp::sum, "the data's variance");
  return relative * variance / total / static_cast<double>(d);
}

// One Lloyd assignment of this rank's points: into `acc`, the centroid sums (k x d), counts
// (k), points that changed cluster and inertia; `assignment` updated.
void assign_points(const std::vector<double>& points, int64_t d,
                   const std::vector<double>& centroids, int64_t k,
                   std::vector<int64_t>& assignment, std::vector<double>& acc) {
  std::fill(acc.begin(), acc.end(), 0.0);
  const int64_t n = static_cast<int64_t>(assignment.size());
  for (int64_t i = 0; i < n; ++i) {
    const auto [c, dist] = nearest(points.data() + i * d, centroids, k, d);
    if (assignment[static_cast<size_t>(i)] != c) acc[static_cast<size_t>(k * d + k)] += 1;
    assignment[static_cast<size_t>(i)] = c;
    acc[static_cast<size_t>(k * d + k + 1)] += dist;
    for (int64_t j = 0; j < d; ++j)
      acc[static_cast<size_t>(c * d + j)] += points[static_cast<size_t>(i * d + j)];
    acc[static_cast<size_t>(k * d + c)] += 1;
  }
}

// Moves each centroid to the mean of its points (an empty cluster keeps its centroid);
// returns the total squared move.
double move_centroids(const std::vector<double>& acc, int64_t k, int64_t d,
                      std::vector<double>& centroids) {
  double shift = 0;
  for (int64_t c = 0; c < k; ++c) {
    const double count = acc[static_cast<size_t>(k * d + c)];
    if (count == 0) continue;
    for (int64_t j = 0; j < d; ++j) {
      const double next = acc[static_cast<size_t>(c * d + j)] / count;
      const double move = next - centroids[static_cast<size_t>(c * d + j)];
      shift += move * move;
      centroids[static_cast<size_t>(c * d + j)] = next;
    }
  }
  return shift;
}

// Assigns every point to the final centroids; the inertia over all ranks.
double assign_to_final(const std::vector<double>& points, int64_t d,
                       const std::vector<double>& centroids, int64_t k,
                       std::vector<int64_t>& assignment, const Communicator& comm) {
  double inertia = 0;
  for (size_t i = 0; i < assignment.size(); ++i) {
    const auto [c, dist] = nearest(points.data() + static_cast<int64_t>(i) * d, centroids, k, d);
    assignment[i] = c;
    inertia += dist;
  }
  comm.allreduce(&inertia, 1, ReduceOp::sum, "the final k-means inertia");
  return inertia;
}

std::vector<int64_t> cluster_sizes(const std::vector<int64_t>& assignment, int64_t k,
                                   const Communicator& comm) {
  std::vector<double> sizes(static_cast<size_t>(k), 0.0);
  for (const int64_t c : assignment) sizes[static_cast<size_t>(c)] += 1;
  comm.allreduce(sizes.data(), k, ReduceOp::sum, "the k-means cluster sizes");
  std::vector<int64_t> out;
  for (const double s : sizes) out.push_back(static_cast<int64_t>(s));
  return out;
}

}  // namespace

KMeansResult kmeans_from(const std::vector<double>& points, int64_t d,
                         std::vector<double> centroids, const KMeansOptions& o,
                         const Communicator& comm) {
  TIDE_CHECK(d > 0, "k-means needs points of at least one dimension, got d = {}", d);
  const int64_t k = static_cast<int64_t>(centroids.size()) / d;
  TIDE_CHECK(k > 0 && static_cast<int64_t>(centroids.size()) == k * d &&
                 static_cast<int64_t>(points.size()) % d == 0,
             "k-means: {} centroid values and {} point values do not make rows of {}",
             centroids.size(), points.size(), d);
  TIDE_CHECK(o.max_iterations > 0, "--max-iterations must be positive, got {}", o.max_iterations);
  TIDE_CHECK(o.tolerance >= 0, "--tolerance must be >= 0, got {}", o.tolerance);
  if (const double scale = common_scale(points, comm); scale != 1.0) {
    KMeansResult r =
        kmeans_from(scaled(points, scale), d, scaled(std::move(centroids), scale), o, comm);
    r.centroids = scaled(std::move(r.centroids), 1.0 / scale);
    r.inertia /= scale * scale;  // beyond the double range it is inf: the centroids are not
    return r;
  }
  const double tolerance = absolute_tolerance(points, d, o.tolerance, comm);
  KMeansResult r;
  r.assignment.assign(points.size() / static_cast<size_t>(d), -1);
  // Per iteration, summed over the ranks: centroid sums (k x d), counts (k), points that
  // changed cluster, inertia.
  std::vector<double> acc(static_cast<size_t>(k * d + k + 2));
  for (r.iterations = 1;; ++r.iterations) {
    assign_points(points, d, centroids, k, r.assignment, acc);
    comm.allreduce(acc.data(), static_cast<int64_t>(acc.size()), ReduceOp::sum,
                   fmt::format("k-means iteration {}", r.iterations));
    r.inertia = acc[static_cast<size_t>(k * d + k + 1)];
    // The counts of changed points are exact integers: every rank takes the same decision.
    if (acc[static_cast<size_t>(k * d + k)] == 0) {
      r.converged = true;  // no point moved: the centroids are the means of their points
      break;
    }
    const double shift = move_centroids(acc, k, d, centroids);
    // Stop on rank 0's reading of the shift, so that rounding can never split the ranks.
    double stop = comm.rank() == 0 && shift <= tolerance ? 1.0 : 0.0;
    comm.allreduce(&stop, 1, ReduceOp::max, "the k-means stopping decision");
    r.converged = stop > 0;
    if (r.converged || r.iterations == o.max_iterations) {
      // Assign once more to the moved centroids, so assignment, sizes and inertia match them.
      r.inertia = assign_to_final(points, d, centroids, k, r.assignment, comm);
      break;
    }
  }
  r.centroids = std::move(centroids);
  r.sizes = cluster_sizes(r.assignment, k, comm);
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
    if (std::max(a, b) > 0) total += (b - a) / std::max(a, b);  // 0 when both are 0
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
  if (t.n < 2) return 1.0;  // one point: every labelling agrees
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
  return std::max(0.0, mi) / ((ha + hb) / 2);
}

ClusterScores score_clustering(const std::vector<double>& points, int64_t d,
                               const std::vector<int64_t>& cluster,
                               const std::vector<int64_t>& truth, int64_t sample, uint64_t seed) {
  const auto n = static_cast<int64_t>(cluster.size());
  TIDE_CHECK(static_cast<int64_t>(points.size()) == n * d,
             "score_clustering: {} values for {} x {}", points.size(), n, d);
  ClusterScores s;
  // The silhouette is O(n^2): over a fixed random sample of points when there are many.
  std::vector<int64_t> rows(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) rows[static_cast<size_t>(i)] = i;
  if (n > sample) {
    RngStream rng(seed, RngPurpose::data, {2});
    for (int64_t i = 0; i < sample; ++i)
      std::swap(rows[static_cast<size_t>(i)],
                rows[static_cast<size_t>(i) + rng.below(static_cast<uint64_t>(n - i))]);
    rows.resize(static_cast<size_t>(sample));
  }
  std::vector<double> chosen;
  std::vector<int64_t> labels;
  for (const int64_t i : rows) {
    chosen.insert(chosen.end(), points.begin() + i * d, points.begin() + (i + 1) * d);
    labels.push_back(cluster[static_cast<size_t>(i)]);
  }
  const std::set<int64_t> used(labels.begin(), labels.end());
  s.silhouette_points = static_cast<int64_t>(labels.size());
  s.silhouette_clusters = static_cast<int64_t>(used.size());
  if (used.size() >= 2 && used.size() < labels.size())  // the same in any unit
    s.silhouette =
        silhouette(scaled(chosen, common_scale(chosen, Communicator::solo())), d, labels);
  if (!truth.empty()) {
    s.adjusted_rand_index = adjusted_rand_index(truth, cluster);
    s.nmi = normalized_mutual_information(truth, cluster);
  }
  return s;
}

}  // namespace tide
