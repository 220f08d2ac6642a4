// tide_stream_bench: every rank reads its shard of a table of series, or of a store sharded
// over several servers (--db repeated), once through WindowStream (server-side cursor,
// prefetch thread, normalisation, windows, shuffle buffer), as `tide timeseries train` does,
// without training; prints one JSON line per rank with its windows, seconds and windows
// per second. Run by bench/timeseries_io under scripts/mpirun-local.
#include <chrono>
#include <cstdio>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "tide/data/window_stream.hpp"
#include "tide/distributed/communicator.hpp"
#include "tide/timeseries/source.hpp"

int main(int argc, char** argv) {
  CLI::App app("Streams every window of a table of series once per rank and times it");
  tide::SeriesData data;
  tide::WindowStreamOptions o;
  o.shuffle_buffer = 4096;
  app.add_option("--db", data.db, "PostgreSQL connection string (repeated: the shards)")
      ->required();
  app.add_option("--table", data.table)->capture_default_str();
  app.add_option("--window", o.windows.length)->required();
  app.add_option("--stride", o.windows.stride)->capture_default_str();
  app.add_option("--batch-size", o.batch_size)->capture_default_str();
  app.add_option("--shuffle-buffer", o.shuffle_buffer)->capture_default_str();
  app.add_option("--fetch-mb", data.fetch_mb)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    const tide::Communicator& world = tide::Communicator::world();
    const std::unique_ptr<tide::TimeSeriesSource> source = tide::open_source(data, world);
    const std::vector<tide::SeriesRange> shards = source->shards(world.size(), o.windows);
    const tide::SeriesRange mine = shards[static_cast<size_t>(world.rank())];
    o.stream_id = static_cast<uint64_t>(world.rank());
    tide::WindowStream stream(source->clone(), mine, o);
    world.barrier("the start");
    const auto start = std::chrono::steady_clock::now();
    stream.start_epoch(0);
    int64_t windows = 0;
    double checksum = 0;
    while (std::optional<tide::WindowBatch> b = stream.next()) {
      windows += b->inputs.dim(0);
      checksum += b->inputs.data<float>()[0];
    }
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%s\n",
                fmt::format("{{\"rank\": {}, \"ranks\": {}, \"series\": {}, \"windows\": {}, "
                            "\"expected\": {}, \"seconds\": {:.3f}, \"windows_per_sec\": "
                            "{:.0f}, \"checksum\": {:.6g}}}",
                            world.rank(), world.size(), mine.series, windows, mine.windows, s,
                            static_cast<double>(windows) / s, checksum)
                    .c_str());
    return windows == mine.windows ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tide_stream_bench: %s\n", e.what());
    return 1;
  }
}
