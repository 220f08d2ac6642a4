// TensorBoard's embedding projector: points and their metadata as the projector plugin reads
// them from a run directory (projector_config.pbtxt naming a tensor TSV and a metadata TSV).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tide {

// Writes into `dir`: <name>.tsv (`points` rows of `dims` values, tab-separated),
// <name>_metadata.tsv (the `columns` header unless there is one column, then one row of
// `metadata` per point) and
// projector_config.pbtxt naming both, so `tensorboard --logdir dir` shows the points in its
// Projector tab. Throws when the sizes disagree or a metadata field holds a tab or newline.
void write_projector(const std::string& dir, const std::string& name, const double* values,
                     int64_t points, int64_t dims, const std::vector<std::string>& columns,
                     const std::vector<std::vector<std::string>>& metadata);

}  // namespace tide
