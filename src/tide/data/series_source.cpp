#include "tide/data/series_source.hpp"

#include <algorithm>

namespace tide {

void close_empty_parts(std::vector<SeriesRange>& parts, int64_t begin, int64_t end) {
  int64_t next_begin = std::min(begin, end);
  for (const SeriesRange& range : parts)
    if (range.series > 0) next_begin = range.end;
  for (auto part = parts.rbegin(); part != parts.rend(); ++part) {
    if (part->series == 0) *part = SeriesRange{.begin = next_begin, .end = next_begin};
    part->end = next_begin;
    next_begin = part->begin;
  }
}

}  // namespace tide
