// k-means clustering (Lloyd's algorithm after k-means++ seeding), on one rank or on the
// ranks of a communicator that each hold a share of the points: each rank assigns its own
// points, and the centroid sums, counts and inertia are summed over the ranks.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "tide/distributed/communicator.hpp"

namespace tide {

struct KMeansOptions {
  int64_t k = 8;
  int64_t max_iterations = 300;
  // Stop when no point changes cluster, or when the centroids' total squared move is at most
  // tolerance times the data's mean per-dimension variance (scikit-learn's rule), or after
  // max_iterations; the points are then assigned to the final centroids.
  double tolerance = 1e-4;
  uint64_t seed = 0;  // the k-means++ draws
};

struct KMeansResult {
  std::vector<double> centroids;    // k x d, row-major
  std::vector<int64_t> assignment;  // this rank's points: the index of their centroid
  double inertia = 0;               // sum over every rank's points of the squared distance
  int64_t iterations = 0;           // Lloyd iterations run
  std::vector<int64_t> sizes;       // points per cluster, over all ranks
  bool converged = false;           // false: stopped by max_iterations
};

// Clusters the rows of `points` (n x d, row-major; this rank's share). Throws when there are
// fewer points than k over all ranks, or d or k is not positive. Every rank gets the same
// centroids; a cluster that loses all its points keeps its centroid.
KMeansResult kmeans(const std::vector<double>& points, int64_t d, const KMeansOptions& options,
                    const Communicator& comm);

// The same from given initial centroids (k x d) instead of k-means++.
KMeansResult kmeans_from(const std::vector<double>& points, int64_t d,
                         std::vector<double> centroids, const KMeansOptions& options,
                         const Communicator& comm);

// The index of the nearest centroid (k x d) of each point (n x d).
std::vector<int64_t> nearest_centroids(const std::vector<double>& points, int64_t d,
                                       const std::vector<double>& centroids);

// k-means++ seeding (Arthur and Vassilvitskii, 2007) over the points of all ranks: the first
// centre uniform, each next one drawn with probability proportional to the squared distance
// to the nearest centre chosen so far. The draws depend on the seed and on the points in rank
// order, not on how they are split over ranks.
std::vector<double> kmeans_plus_plus(const std::vector<double>& points, int64_t d, int64_t k,
                                     uint64_t seed, const Communicator& comm);

// Quality of a clustering, for points held by one process.
// Mean silhouette (Rousseeuw 1987) over the points, with Euclidean distances; a point alone
// in its cluster scores 0. O(n^2): pass at most some thousands of points.
double silhouette(const std::vector<double>& points, int64_t d, const std::vector<int64_t>& labels);
// Adjusted Rand index (Hubert and Arabie 1985) of two labellings of the same points.
double adjusted_rand_index(const std::vector<int64_t>& a, const std::vector<int64_t>& b);
// Normalised mutual information, I(a; b) / ((H(a) + H(b)) / 2) (scikit-learn's default).
double normalized_mutual_information(const std::vector<int64_t>& a, const std::vector<int64_t>& b);

struct ClusterScores {
  std::optional<double> silhouette;  // undefined with one cluster, or one point per cluster
  int64_t silhouette_points = 0;     // the sample it was computed on
  int64_t silhouette_clusters = 0;   // clusters in that sample
  std::optional<double> adjusted_rand_index, nmi;  // against known classes, when given
};

// The scores of `cluster` (one per point of `points`, n x d): the silhouette over a random
// sample of at most `sample` points (drawn from `seed`), and, when `truth` is not empty, the
// adjusted Rand index and NMI against it.
ClusterScores score_clustering(const std::vector<double>& points, int64_t d,
                               const std::vector<int64_t>& cluster,
                               const std::vector<int64_t>& truth, int64_t sample, uint64_t seed);

}  // namespace tide
