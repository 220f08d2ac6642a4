// What `tide timeseries train` and `cluster` share: the store's connection and how its series
// are cut into windows and shared among the ranks.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tide/data/series_source.hpp"
#include "tide/distributed/communicator.hpp"
#include "tide/timeseries/series.hpp"

namespace tide {

// This rank's view of the store, after checking the data flags. A table of its own:
// --db[rank % count], each --db a copy of it. A sharded store (its tables say so): every
// shard through one of the --db that hold it, rank r taking the (r mod n)-th of a shard's n.
std::unique_ptr<TimeSeriesSource> open_source(const SeriesData& d, const Communicator& comm);
// The windows of --window/--stride; --window 0 is the series' length, which must be common.
WindowSpec resolve_windows(const SeriesData& d, const SourceSummary& s, const std::string& where);
// Fails unless every rank sees the same `text` (the same table through each --db).
void check_same_on_ranks(const std::string& text, const Communicator& comm);
// The table and its shards as text, for check_same_on_ranks.
std::string describe_layout(const SourceSummary& s, const std::vector<SeriesRange>& shards);

}  // namespace tide
