// Starting every rank from the same model: rank 0's parameters, broadcast and verified.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tide/autograd/variable.hpp"
#include "tide/distributed/communicator.hpp"

namespace tide {

using NamedParameters = std::vector<std::pair<std::string, Variable>>;

// One line per parameter: name, dtype and shape.
std::string describe_parameters(const NamedParameters& parameters);

// FNV-1a (64 bits) over the parameters' bytes, in order.
uint64_t parameters_checksum(const NamedParameters& parameters);

// Makes every rank's parameters equal to rank 0's, in three steps, each a collective:
//  1. every rank's `description` (describe_parameters() and then the settings that must
//     agree, such as the model and flags) is compared with rank 0's; a difference is an
//     error on every rank that names the ranks and the first line that differs, so no rank
//     goes on to a broadcast of a different size and hangs;
//  2. rank 0's values are broadcast;
//  3. every rank's checksum of its copy is compared with rank 0's.
// Returns the checksum.
uint64_t replicate_parameters(const NamedParameters& parameters, const std::string& description,
                              const Communicator& comm);

// --teams K: the world cut into K groups of consecutive ranks (as equal as they can be) that
// train independently.
struct Team {
  int index;  // 0 .. count - 1
  int count;
  Communicator comm;
};
Team split_into_teams(const Communicator& world, int teams);

}  // namespace tide
