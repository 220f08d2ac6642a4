// k-means and the clustering scores: Lloyd's iterations against scikit-learn (fixture from
// tests/fixtures/generate.py), the same result whether the points sit on 1, 2 or 3 ranks,
// k-means++ seeding, and the silhouette, adjusted Rand index and NMI against scikit-learn.
// Runs under scripts/mpirun-local with 1, 2 and 3 ranks.
#include <cmath>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"
#include "tide/cluster/kmeans.hpp"
#include "tide/tensor/safetensors.hpp"

namespace tide {
namespace {

using ::testing::HasSubstr;
using tide::testing::error_of;

const TensorMap& fixture() {
  static const TensorMap f =
      load_safetensors(std::string(TIDE_SOURCE_DIR) + "/tests/fixtures/kmeans.safetensors");
  return f;
}

std::vector<int64_t> labels(const std::string& name) {
  const Tensor& t = fixture().at(name);
  return {t.data<int64_t>(), t.data<int64_t>() + t.numel()};
}

const Communicator& world() {
  return Communicator::world();
}

// This rank's contiguous share of the 90 fixture points (rank r of R: rows [90r/R, 90(r+1)/R)).
std::pair<int64_t, int64_t> share() {
  const int64_t n = 90, r = world().rank(), size = world().size();
  return {n * r / size, n * (r + 1) / size};
}

std::vector<double> my_points() {
  const std::vector<double> all = fixture().at("points").to_vector();
  const auto [begin, end] = share();
  return {all.begin() + begin * 2, all.begin() + end * 2};
}

TEST(KMeans, LloydMatchesScikitLearnOnAnyNumberOfRanks) {
  const std::vector<double> all = fixture().at("points").to_vector();
  const std::vector<double> init(all.begin(), all.begin() + 6);  // the first three points
  const KMeansResult r = kmeans_from(my_points(), 2, init, {.k = 3, .tolerance = 0}, world());
  const std::vector<double> want = fixture().at("centroids").to_vector();
  ASSERT_EQ(r.centroids.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(r.centroids[i], want[i], 1e-12) << i;
  EXPECT_NEAR(r.inertia, fixture().at("inertia").to_vector()[0], 1e-9);
  const std::vector<int64_t> sk = labels("labels");
  const auto [begin, end] = share();
  for (int64_t i = begin; i < end; ++i)
    EXPECT_EQ(r.assignment[static_cast<size_t>(i - begin)], sk[static_cast<size_t>(i)]) << i;
  EXPECT_GT(r.iterations, 2);  // started inside one blob: it had to move
  int64_t total = 0;
  for (const int64_t s : r.sizes) total += s;
  EXPECT_EQ(total, 90);
}

// Stopped by --max-iterations after one step, as scikit-learn: the points re-assigned to the
// moved centroids, and the inertia theirs.
TEST(KMeans, StoppedByMaxIterationsMatchesScikitLearn) {
  const std::vector<double> all = fixture().at("points").to_vector();
  const std::vector<double> init(all.begin(), all.begin() + 6);
  const KMeansResult r =
      kmeans_from(my_points(), 2, init, {.k = 3, .max_iterations = 1, .tolerance = 0}, world());
  EXPECT_FALSE(r.converged);
  EXPECT_EQ(r.iterations, 1);
  const std::vector<double> want = fixture().at("centroids_once").to_vector();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(r.centroids[i], want[i], 1e-12) << i;
  EXPECT_NEAR(r.inertia, fixture().at("inertia_once").to_vector()[0], 1e-9);
  const std::vector<int64_t> sk = labels("labels_once");
  const auto [begin, end] = share();
  for (int64_t i = begin; i < end; ++i)
    EXPECT_EQ(r.assignment[static_cast<size_t>(i - begin)], sk[static_cast<size_t>(i)]) << i;
}

// Far from 0 (an offset of 1e9, like timestamps) the tolerance still stops where the
// centred data stops, and the centroids move with the offset.
TEST(KMeans, DataFarFromZeroConvergesAsCentredData) {
  std::vector<double> shifted = my_points();
  for (double& v : shifted) v += 1e9;
  const std::vector<double> all = fixture().at("points").to_vector();
  std::vector<double> init(all.begin(), all.begin() + 6);
  const KMeansResult centred =
      kmeans_from(my_points(), 2, init, {.k = 3, .tolerance = 1e-4}, world());
  for (double& v : init) v += 1e9;
  const KMeansResult far = kmeans_from(shifted, 2, init, {.k = 3, .tolerance = 1e-4}, world());
  EXPECT_EQ(far.iterations, centred.iterations);
  EXPECT_EQ(far.assignment, centred.assignment);
  for (size_t i = 0; i < centred.centroids.size(); ++i)
    EXPECT_NEAR(far.centroids[i] - 1e9, centred.centroids[i], 1e-5) << i;
}

// More ranks than points: ranks without points take part in every collective.
TEST(KMeans, RanksWithoutPointsTakePart) {
  const std::vector<double> mine =
      world().rank() == 0 ? std::vector<double>{0, 0, 10, 10} : std::vector<double>{};
  const KMeansResult r = kmeans(mine, 2, {.k = 2, .seed = 1}, world());
  EXPECT_EQ(r.sizes, (std::vector<int64_t>{1, 1}));
  EXPECT_DOUBLE_EQ(r.inertia, 0.0);
  EXPECT_TRUE(r.converged);
}

TEST(KMeans, PlusPlusSeedingIsTheSameOnAnyNumberOfRanks) {
  // Each rank also seeds the whole set alone; the distributed draw must pick the same points.
  const std::vector<double> all = fixture().at("points").to_vector();
  const std::vector<double> spread = kmeans_plus_plus(my_points(), 2, 3, 5, world());
  const std::vector<double> alone = kmeans_plus_plus(all, 2, 3, 5, Communicator::solo());
  EXPECT_EQ(spread, alone);
  // The three centres are data points, distinct, and (with these well-separated blobs and a
  // draw weighted by squared distance) in three different blobs.
  const std::vector<int64_t> truth = labels("truth");
  std::set<int64_t> blobs;
  for (int c = 0; c < 3; ++c)
    for (int64_t i = 0; i < 90; ++i)
      if (all[static_cast<size_t>(2 * i)] == spread[static_cast<size_t>(2 * c)] &&
          all[static_cast<size_t>(2 * i + 1)] == spread[static_cast<size_t>(2 * c + 1)])
        blobs.insert(truth[static_cast<size_t>(i)]);
  EXPECT_EQ(blobs.size(), 3u);
  // Clustering from it finds the blobs.
  const KMeansResult r = kmeans(my_points(), 2, {.k = 3, .seed = 5}, world());
  EXPECT_NEAR(r.inertia, fixture().at("inertia").to_vector()[0], 1e-9);
}

TEST(KMeans, TooFewPointsIsAClearError) {
  EXPECT_THAT(error_of([] {
                kmeans({0, 0, 1, 1}, 2, {.k = 5}, Communicator::solo());
              }),
              HasSubstr("2 points cannot make 5 clusters"));
}

TEST(ClusterScores, MatchScikitLearn) {
  const std::vector<double> all = fixture().at("points").to_vector();
  const std::vector<int64_t> truth = labels("truth"), found = labels("labels"),
                             other = labels("other");
  const auto value = [](const char* name) { return fixture().at(name).to_vector()[0]; };
  EXPECT_NEAR(silhouette(all, 2, found), value("silhouette_labels"), 1e-12);
  EXPECT_NEAR(silhouette(all, 2, other), value("silhouette_other"), 1e-12);
  EXPECT_NEAR(adjusted_rand_index(truth, found), value("ari_labels_truth"), 1e-12);
  EXPECT_NEAR(adjusted_rand_index(truth, other), value("ari_other_truth"), 1e-12);
  EXPECT_NEAR(normalized_mutual_information(truth, found), value("nmi_labels_truth"), 1e-12);
  EXPECT_NEAR(normalized_mutual_information(truth, other), value("nmi_other_truth"), 1e-12);
  // Renaming clusters changes nothing; a random labelling scores near 0.
  std::vector<int64_t> renamed = found;
  for (int64_t& l : renamed) l = (l + 1) % 3 + 10;
  EXPECT_DOUBLE_EQ(adjusted_rand_index(found, renamed), 1.0);
  EXPECT_NEAR(normalized_mutual_information(found, renamed), 1.0, 1e-12);
  EXPECT_LT(std::abs(adjusted_rand_index(truth, other)), 0.1);
  // By hand: points 1, 1, 1, 5 in clusters 0, 1, 0, 1 score 1, -1, 1, 0. As scikit-learn,
  // equal points split over clusters (a = b = 0) score 0, and one point agrees with itself.
  EXPECT_DOUBLE_EQ(silhouette({1, 1, 1, 5}, 1, {0, 1, 0, 1}), 0.25);
  EXPECT_DOUBLE_EQ(silhouette({1, 1, 1, 1}, 1, {0, 1, 0, 1}), 0.0);
  EXPECT_DOUBLE_EQ(adjusted_rand_index({3}, {7}), 1.0);
}

// The fixture's points times `scale`, where squared distances (near 1e77 for 3e38, past the
// double range for 1e300) or the variance's sums would overflow or underflow without care:
// the same clusters, the centroids the fixture's times `scale`, all finite.
TEST(KMeans, ValuesNearTheLimitsOfFloatAndDoubleClusterAsTheFixture) {
  const std::vector<double> all = fixture().at("points").to_vector();
  const std::vector<double> init(all.begin(), all.begin() + 6);
  const KMeansResult base = kmeans_from(my_points(), 2, init, {.k = 3, .tolerance = 0}, world());
  for (const double scale : {3e38, 1e300, 1.7e308 / 20, 1e-300}) {
    std::vector<double> mine = my_points(), start = init;
    for (double& v : mine) v *= scale;
    for (double& v : start) v *= scale;
    const KMeansResult r = kmeans_from(mine, 2, start, {.k = 3, .tolerance = 0}, world());
    EXPECT_EQ(r.assignment, base.assignment) << scale;
    EXPECT_EQ(r.sizes, base.sizes) << scale;
    ASSERT_EQ(r.centroids.size(), base.centroids.size());
    for (size_t i = 0; i < r.centroids.size(); ++i) {
      ASSERT_TRUE(std::isfinite(r.centroids[i])) << scale;
      EXPECT_NEAR(r.centroids[i] / scale, base.centroids[i], 1e-9) << scale << " " << i;
    }
    const KMeansResult pp = kmeans(mine, 2, {.k = 3, .seed = 4}, world());
    for (const double c : pp.centroids) EXPECT_TRUE(std::isfinite(c)) << scale;
    // Rank 0 assigns every point to the final centroids, as `tide kmeans` reports them.
    std::vector<double> every = all;
    for (double& v : every) v *= scale;
    const std::vector<int64_t> near = nearest_centroids(every, 2, r.centroids);
    EXPECT_EQ(std::set<int64_t>(near.begin(), near.end()).size(), 3u) << scale;
    const ClusterScores s = score_clustering(every, 2, near, {}, 1000, 0);
    ASSERT_TRUE(s.silhouette.has_value());
    EXPECT_TRUE(std::isfinite(*s.silhouette)) << scale;
  }
}

TEST(KMeans, APointThatIsNotFiniteIsRefusedOnEveryRank) {
  std::vector<double> mine = my_points();
  if (world().rank() == world().size() - 1) mine[1] = std::nan("");
  const std::string e = error_of([&] { kmeans(mine, 2, {.k = 3}, world()); });
  EXPECT_THAT(e, HasSubstr("not finite"));
  if (world().rank() == world().size() - 1) {
    EXPECT_THAT(e, HasSubstr("value 1 of this rank"));
  }
}

}  // namespace
}  // namespace tide
