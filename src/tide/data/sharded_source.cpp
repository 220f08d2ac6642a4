#include "tide/data/sharded_source.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace tide {
namespace {

// Reads a store's range run by run: each run from the shard that holds it.
class ShardedCursor : public SeriesCursor {
 public:
  struct Piece {
    PostgresSource* shard;
    int64_t begin, end;
  };
  explicit ShardedCursor(std::vector<Piece> pieces) : pieces_(std::move(pieces)) {}

  bool next(SeriesRecord& out) override {
    while (true) {
      if (!cursor_) {
        if (next_piece_ == pieces_.size()) return false;
        const Piece& p = pieces_[next_piece_++];
        cursor_ = p.shard->open(p.begin, p.end);
      }
      if (cursor_->next(out)) return true;
      cursor_.reset();
    }
  }

 private:
  std::vector<Piece> pieces_;
  size_t next_piece_ = 0;
  std::unique_ptr<SeriesCursor> cursor_;
};

}  // namespace

ShardedSource::ShardedSource(std::vector<std::unique_ptr<PostgresSource>> shards)
    : shards_(std::move(shards)) {
  TIDE_CHECK(!shards_.empty(), "a sharded store needs at least one shard");
  std::optional<StoreShard> first;
  for (size_t s = 0; s < shards_.size(); ++s) {
    const std::optional<StoreShard> shard = shards_[s]->store_shard();
    TIDE_CHECK(shard.has_value(), "{} is not a shard of a sharded store", shards_[s]->describe());
    if (!first) first = shard;
    TIDE_CHECK(shard->store == first->store && shard->shards == static_cast<int>(shards_.size()) &&
                   shard->shard == static_cast<int>(s),
               "{} is shard {} of {} of store {}, given as shard {} of {} of store {}",
               shards_[s]->describe(), shard->shard + 1, shard->shards, shard->store, s + 1,
               shards_.size(), first->store);
  }
}

std::string ShardedSource::describe() const {
  std::string text = fmt::format("a store of {} shards (", shards_.size());
  for (size_t s = 0; s < shards_.size(); ++s)
    text += fmt::format("{}{}", s > 0 ? "; " : "", shards_[s]->describe());
  return text + ")";
}

SourceSummary ShardedSource::summary() {
  SourceSummary all;
  for (const auto& shard : shards_) {
    const SourceSummary s = shard->summary();
    if (s.series == 0) continue;
    all.min_length = all.series == 0 ? s.min_length : std::min(all.min_length, s.min_length);
    all.max_length = std::max(all.max_length, s.max_length);
    all.series += s.series;
    all.points += s.points;
    all.labelled += s.labelled;
  }
  return all;
}

std::vector<ShardedSource::Run> ShardedSource::runs(const WindowSpec& windows, int64_t begin,
                                                    int64_t end) {
  std::vector<Run> all;
  for (size_t s = 0; s < shards_.size(); ++s)
    for (const SeriesRange& r : shards_[s]->runs(windows, begin, end))
      all.push_back(Run{.shard = s, .range = r});
  std::sort(all.begin(), all.end(),
            [](const Run& a, const Run& b) { return a.range.begin < b.range.begin; });
  return all;
}

std::vector<SeriesRange> ShardedSource::shards(int parts, const WindowSpec& windows, int64_t begin,
                                               int64_t end) {
  TIDE_CHECK(parts >= 1, "shards: {} parts", parts);
  const std::vector<Run> all = runs(windows, begin, end);
  int64_t total = 0;
  for (const Run& r : all) total += r.range.windows;
  // Each run split as its part of the whole: the windows of the runs before it come first.
  std::vector<SeriesRange> ranges(static_cast<size_t>(parts));
  int64_t before = 0;
  for (const Run& r : all) {
    for (const auto& [part, piece] :
         shards_[r.shard]->split(parts, windows, r.range.begin, r.range.end, before, total)) {
      SeriesRange& range = ranges[static_cast<size_t>(part)];
      if (range.series == 0) {
        range = piece;
      } else {
        range.end = piece.end;
        range.series += piece.series;
        range.windows += piece.windows;
      }
    }
    before += r.range.windows;
  }
  close_empty_parts(ranges, begin, end);
  return ranges;
}

std::unique_ptr<SeriesCursor> ShardedSource::open(int64_t begin, int64_t end) {
  // Where the runs are is asked of every shard once; a cursor reopened after a lost
  // connection then needs only the shards of its range.
  if (!runs_known_) {
    all_runs_ = runs(WindowSpec{.length = 1, .stride = 1}, 0, INT64_MAX);
    runs_known_ = true;
  }
  std::vector<ShardedCursor::Piece> pieces;
  for (const Run& r : all_runs_)
    if (r.range.end > begin && r.range.begin < end)
      pieces.push_back(
          {shards_[r.shard].get(), std::max(begin, r.range.begin), std::min(end, r.range.end)});
  return std::make_unique<ShardedCursor>(std::move(pieces));
}

std::unique_ptr<TimeSeriesSource> ShardedSource::clone() const {
  std::vector<std::unique_ptr<PostgresSource>> copies;
  for (const auto& shard : shards_) copies.push_back(std::make_unique<PostgresSource>(*shard));
  auto copy = std::make_unique<ShardedSource>(std::move(copies));
  copy->all_runs_ = all_runs_;
  copy->runs_known_ = runs_known_;
  return copy;
}

std::unique_ptr<PostgresSource> ShardedSource::shard(size_t s) const {
  TIDE_CHECK(s < shards_.size(), "shard {} of {}", s + 1, shards_.size());
  return std::make_unique<PostgresSource>(*shards_[s]);
}

std::vector<std::pair<size_t, SeriesRange>> ShardedSource::local_shares(int ranks,
                                                                        const WindowSpec& windows,
                                                                        int64_t begin,
                                                                        int64_t end) {
  const auto count = static_cast<int64_t>(shards_.size());
  TIDE_CHECK(ranks >= count,
             "reading each shard from its own ranks needs a rank per shard at least: {} ranks, "
             "{} shards",
             ranks, count);
  std::vector<std::pair<size_t, SeriesRange>> shares(static_cast<size_t>(ranks));
  int first = 0;
  for (int64_t s = 0; s < count; ++s) {
    // Ranks r with floor(r x count / ranks) = s: consecutive, at least one.
    int last = first;
    while (last < ranks && static_cast<int64_t>(last) * count / ranks == s) ++last;
    const std::vector<SeriesRange> parts =
        shards_[static_cast<size_t>(s)]->shards(last - first, windows, begin, end);
    for (int r = first; r < last; ++r)
      shares[static_cast<size_t>(r)] = {static_cast<size_t>(s),
                                        parts[static_cast<size_t>(r - first)]};
    first = last;
  }
  return shares;
}

void ShardedSource::write_clusters(const std::vector<SeriesCluster>& clusters) {
  // One transaction a shard: a failure part way leaves the shards before it with the new
  // clusters and the rest with the old.
  for (const auto& shard : shards_) shard->write_clusters(clusters);
}

}  // namespace tide
