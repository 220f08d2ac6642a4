#include "tide/distributed/replicate.hpp"

#include <sstream>

#include <fmt/format.h>

#include "tide/core/hash.hpp"

namespace tide {
namespace {

// The first line where a and b differ, numbered from 1, with both versions.
std::string first_difference(const std::string& a, const std::string& b) {
  std::istringstream sa(a), sb(b);
  std::string la, lb;
  for (int line = 1;; ++line) {
    const bool ha = static_cast<bool>(std::getline(sa, la));
    const bool hb = static_cast<bool>(std::getline(sb, lb));
    if (!ha && !hb) return "they differ";
    if (!ha) la = "(nothing)";
    if (!hb) lb = "(nothing)";
    if (!ha || !hb || la != lb)
      return fmt::format("line {}: rank 0 has '{}', the other '{}'", line, la, lb);
  }
}

std::string join_ranks(const std::vector<int>& ranks) {
  std::string s;
  for (size_t i = 0; i < ranks.size(); ++i) s += (i ? ", " : "") + std::to_string(ranks[i]);
  return s;
}

}  // namespace

std::string describe_parameters(const NamedParameters& parameters) {
  std::string s;
  for (const auto& [name, p] : parameters) s += fmt::format("{} {}\n", name, p.value().str());
  return s;
}

uint64_t parameters_checksum(const NamedParameters& parameters) {
  uint64_t h = kFnv1aStart;
  for (const auto& [name, p] : parameters) h = fnv1a64(p.value().raw_data(), p.value().nbytes(), h);
  return h;
}

uint64_t replicate_parameters(const NamedParameters& parameters, const std::string& description,
                              const Communicator& comm) {
  const std::vector<std::string> all =
      comm.allgather(description, "the comparison of every rank's model and flags");
  std::vector<int> differ;
  for (int r = 1; r < comm.size(); ++r)
    if (all[static_cast<size_t>(r)] != all[0]) differ.push_back(r);
  TIDE_CHECK(differ.empty(),
             "rank{} {} of {} started with a different model or flags than rank 0 (the same "
             "command must start every rank); rank {}: {}",
             differ.size() > 1 ? "s" : "", join_ranks(differ), comm.size(),
             differ.empty() ? 0 : differ[0],
             differ.empty() ? "" : first_difference(all[0], all[static_cast<size_t>(differ[0])]));
  for (const auto& [name, p] : parameters) {
    Tensor value = p.value();
    comm.broadcast(value, 0, fmt::format("the broadcast of the initial parameter {}", name));
  }
  const uint64_t mine = parameters_checksum(parameters);
  Tensor sums = Tensor::full({1}, 0.0, DType::i64);
  sums.data<int64_t>()[0] = static_cast<int64_t>(mine);
  const Tensor gathered = comm.allgather(sums, "the comparison of parameter checksums");
  const int64_t* got = gathered.data<int64_t>();
  differ.clear();
  for (int r = 1; r < comm.size(); ++r)
    if (got[r] != got[0]) differ.push_back(r);
  TIDE_CHECK(differ.empty(),
             "after the broadcast of rank 0's parameters, the checksum on rank{} {} differs from "
             "rank 0's ({:016x})",
             differ.size() > 1 ? "s" : "", join_ranks(differ), static_cast<uint64_t>(got[0]));
  return mine;
}

Team split_into_teams(const Communicator& world, int teams) {
  TIDE_CHECK(teams >= 1 && teams <= world.size(),
             "--teams {} needs between 1 and the number of ranks ({})", teams, world.size());
  // Rank r of W goes to team floor(r * K / W): consecutive ranks, sizes differing by one.
  const int index = static_cast<int>(static_cast<int64_t>(world.rank()) * teams / world.size());
  return Team{index, teams, teams == 1 ? world : world.split(index)};
}

}  // namespace tide
