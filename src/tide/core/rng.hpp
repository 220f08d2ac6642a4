// Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11).
//
// Every random number in Tide is a pure function of a key and a counter, so any stream can
// be recreated from (seed, purpose, rank, epoch, step) without replaying what came before:
// this is what makes resume exact and shuffling identical on every rank.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <vector>

namespace tide {

// One Philox4x32-10 block: 128 random bits from a 128-bit counter and a 64-bit key.
std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key);

// What a stream of random numbers is for; part of the stream's identity.
enum class RngPurpose : uint32_t {
  init = 1,
  shuffle = 2,
  dropout = 3,
  augment = 4,
  data = 5,
  test = 6
};

// A sequential reader over one Philox stream. The stream is named by the seed and up to
// three ids (for example rank, epoch, step); two streams with different names are
// independent. Cheap to create; copying it forks the position.
class RngStream {
 public:
  RngStream(uint64_t seed, RngPurpose purpose, std::initializer_list<uint64_t> ids = {});

  uint32_t next_u32();
  // Uniform in [0, 1) with 24 random bits.
  float uniform();
  // Uniform in [0, 1) with 53 random bits.
  double uniform_double();
  // Standard normal (Box-Muller).
  double normal();
  // Uniform integer in [0, n), without modulo bias. n > 0.
  uint64_t below(uint64_t n);

 private:
  std::array<uint32_t, 2> key_;
  std::array<uint32_t, 4> counter_;  // words 0-1: block index; words 2-3: stream id
  std::array<uint32_t, 4> block_{};
  int used_ = 4;
};

// Fisher-Yates: shuffles `v` in place with draws from `rng` (the last element first).
void shuffle(std::vector<int64_t>& v, RngStream& rng);

}  // namespace tide
