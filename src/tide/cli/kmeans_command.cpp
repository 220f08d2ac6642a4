#include <algorithm>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "tide/cli/commands.hpp"
#include "tide/cluster/kmeans.hpp"
#include "tide/core/error.hpp"
#include "tide/data/csv.hpp"
#include "tide/report/files.hpp"

namespace tide::cli {
namespace {

namespace fs = std::filesystem;

struct KMeansArgs {
  KMeansOptions options;
  std::string data, columns, label, out;
  int64_t silhouette_sample = 5000;
};

// The known classes of --label, checked before any work; empty without --label.
std::vector<int64_t> read_labels(const CsvTable& table, const KMeansArgs& a) {
  std::vector<int64_t> truth;
  if (a.label.empty()) return truth;
  const std::vector<double>& l = table.column(a.label);
  for (size_t i = 0; i < l.size(); ++i) {
    TIDE_CHECK(l[i] == std::floor(l[i]) && std::abs(l[i]) < 9e15,
               "{}: line {}: label {} is not a whole number", a.data, table.lines[i], l[i]);
    truth.push_back(static_cast<int64_t>(l[i]));
  }
  return truth;
}

// The vector columns: those of --columns, or all but the label.
std::vector<size_t> vector_columns(const CsvTable& table, const KMeansArgs& a) {
  std::vector<size_t> use;
  if (!a.columns.empty()) {
    for (const std::string& c : split_list(a.columns)) {
      use.push_back(table.index_of(c));
      TIDE_CHECK(a.label.empty() || use.back() != table.index_of(a.label),
                 "--columns {} includes the --label column {}: the answer would be clustered too",
                 a.columns, a.label);
    }
  } else {
    const size_t skip = a.label.empty() ? table.names.size() : table.index_of(a.label);
    for (size_t c = 0; c < table.names.size(); ++c)
      if (c != skip) use.push_back(c);
  }
  TIDE_CHECK(!use.empty(), "{}: no columns left to cluster", a.data);
  return use;
}

// Rows [begin, end) of the columns `use`, one after another.
std::vector<double> rows_of(const CsvTable& table, const std::vector<size_t>& use, int64_t begin,
                            int64_t end) {
  std::vector<double> out;
  for (int64_t i = begin; i < end; ++i)
    for (const size_t c : use) out.push_back(table.columns[c][static_cast<size_t>(i)]);
  return out;
}

// The clustering's figures on stdout (warnings on stderr) and in kmeans.json's object.
nlohmann::ordered_json report_clustering(const KMeansArgs& a, const KMeansResult& r,
                                         const ClusterScores& scores, int64_t n, int64_t d,
                                         bool labelled) {
  const Communicator& world = Communicator::world();
  fmt::print("k-means: {} points of {} dimension{}, k = {}, {} iteration{} on {} rank{}\n", n, d,
             d > 1 ? "s" : "", a.options.k, r.iterations, r.iterations > 1 ? "s" : "", world.size(),
             world.size() > 1 ? "s" : "");
  // Points near the double limit have finite centroids, but a sum of squares beyond it.
  fmt::print("inertia {}; cluster sizes {}\n",
             std::isfinite(r.inertia) ? fmt::format("{:.6g}", r.inertia)
                                      : std::string("beyond the double range"),
             fmt::join(r.sizes, ", "));
  if (!r.converged)
    fmt::print(stderr, "warning: k-means did not converge in {} iterations (--max-iterations)\n",
               r.iterations);
  if (std::find(r.sizes.begin(), r.sizes.end(), 0) != r.sizes.end())
    fmt::print(stderr,
               "warning: some clusters are empty (fewer distinct points than --k, or a cluster "
               "lost all its points); they keep their centroids\n");
  nlohmann::ordered_json report = {{"data", a.data},       {"k", a.options.k},
                                   {"points", n},          {"iterations", r.iterations},
                                   {"inertia", r.inertia}, {"sizes", r.sizes}};
  if (!scores.silhouette) {
    fmt::print("silhouette undefined ({} cluster{} among {} points)\n", scores.silhouette_clusters,
               scores.silhouette_clusters == 1 ? "" : "s", scores.silhouette_points);
  } else {
    fmt::print("silhouette {:.4f}{}\n", *scores.silhouette,
               n > a.silhouette_sample
                   ? fmt::format(" (on {} sampled points)", scores.silhouette_points)
                   : "");
    report["silhouette"] = *scores.silhouette;
  }
  if (labelled) {
    fmt::print("against column {}: adjusted Rand index {:.4f}, NMI {:.4f}\n", a.label,
               *scores.adjusted_rand_index, *scores.nmi);
    report["adjusted_rand_index"] = *scores.adjusted_rand_index;
    report["nmi"] = *scores.nmi;
  }
  return report;
}

// assignments.csv (row, line, cluster and label of every row) and centroids.csv in `out`.
void write_cluster_files(const std::string& out, const CsvTable& table,
                         const std::vector<size_t>& use, const std::vector<int64_t>& cluster,
                         const std::vector<int64_t>& truth, const std::vector<double>& centroids,
                         int64_t k) {
  const auto n = static_cast<int64_t>(cluster.size()), d = static_cast<int64_t>(use.size());
  std::string assignments = truth.empty() ? "row,line,cluster\n" : "row,line,cluster,label\n";
  for (int64_t i = 0; i < n; ++i)
    assignments += fmt::format(
        "{},{},{}{}\n", i, table.lines[static_cast<size_t>(i)], cluster[static_cast<size_t>(i)],
        truth.empty() ? "" : fmt::format(",{}", truth[static_cast<size_t>(i)]));
  write_text_file((fs::path(out) / "assignments.csv").string(), assignments);
  std::string text;
  for (size_t j = 0; j < use.size(); ++j) text += (j ? "," : "") + table.names[use[j]];
  text += "\n";
  for (int64_t c = 0; c < k; ++c)
    for (int64_t j = 0; j < d; ++j)
      text +=
          fmt::format("{}{}", centroids[static_cast<size_t>(c * d + j)], j + 1 < d ? "," : "\n");
  write_text_file((fs::path(out) / "centroids.csv").string(), text);
}

void run(const KMeansArgs& a) {
  const Communicator& world = Communicator::world();
  const CsvTable table = read_csv(a.data);
  const std::vector<int64_t> truth = read_labels(table, a);
  const std::vector<size_t> use = vector_columns(table, a);
  const auto d = static_cast<int64_t>(use.size()), n = table.rows();
  // This rank's contiguous share of the rows.
  const int64_t begin = n * world.rank() / world.size(),
                end = n * (world.rank() + 1) / world.size();
  const KMeansResult r = kmeans(rows_of(table, use, begin, end), d, a.options, world);
  if (world.rank() != 0) return;

  // Rank 0 has every row: assign them all to the final centroids for the report.
  const std::vector<double> all = rows_of(table, use, 0, n);
  const std::vector<int64_t> cluster = nearest_centroids(all, d, r.centroids);
  const ClusterScores scores =
      score_clustering(all, d, cluster, truth, a.silhouette_sample, a.options.seed);
  const nlohmann::ordered_json report = report_clustering(a, r, scores, n, d, !truth.empty());
  const std::string out = a.out.empty() ? fmt::format("runs/kmeans-{}", local_time_stamp()) : a.out;
  create_directory(out, "output directory");
  write_cluster_files(out, table, use, cluster, truth, r.centroids, a.options.k);
  write_text_file((fs::path(out) / "kmeans.json").string(), report.dump(2) + "\n");
  fmt::print("assignments.csv, centroids.csv and kmeans.json in {}\n", out);
}

}  // namespace

void add_kmeans_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "kmeans",
      "Cluster the rows of a CSV file with k-means (k-means++ seeding; over the ranks "
      "under mpirun)");
  auto a = std::make_shared<KMeansArgs>();
  cmd->add_option("data", a->data, "CSV file of vectors, one per row")->required();
  cmd->add_option("--k", a->options.k, "Number of clusters")->required();
  cmd->add_option("--columns", a->columns,
                  "The vector's columns, comma-separated (default: all but --label)");
  cmd->add_option("--label", a->label,
                  "A column of known classes: not clustered, compared with the clusters (adjusted "
                  "Rand index, NMI)");
  cmd->add_option("--max-iterations", a->options.max_iterations, "Lloyd iterations at most")
      ->capture_default_str();
  cmd->add_option("--tolerance", a->options.tolerance,
                  "Stop when the centroids' total squared move is at most this times the data's "
                  "mean variance per dimension")
      ->capture_default_str();
  cmd->add_option("--seed", a->options.seed, "k-means++ draws")->capture_default_str();
  cmd->add_option("--silhouette-sample", a->silhouette_sample,
                  "Points the silhouette is computed on at most")
      ->capture_default_str();
  cmd->add_option("--out", a->out, "Output directory (default: runs/kmeans-<time>)");
  cmd->callback([a] {
    TIDE_CHECK(a->options.k >= 1, "--k must be a positive integer, got {}", a->options.k);
    TIDE_CHECK(a->options.max_iterations >= 1, "--max-iterations must be positive, got {}",
               a->options.max_iterations);
    TIDE_CHECK(a->options.tolerance >= 0, "--tolerance must be >= 0, got {}", a->options.tolerance);
    TIDE_CHECK(a->silhouette_sample >= 2, "--silhouette-sample must be at least 2, got {}",
               a->silhouette_sample);
    run(*a);
  });
}

}  // namespace tide::cli
