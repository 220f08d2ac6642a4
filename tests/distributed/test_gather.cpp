// allgather_json on 1, 2 and 3 ranks: every rank's value, in rank order, on every rank, with
// bulk arrays carried exactly as bytes; a binary value of the wrong size is a clear error.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testing.hpp"
#include "tide/distributed/gather.hpp"

namespace tide {
namespace {

using ::testing::HasSubstr;

TEST(Gather, EveryRanksValueInRankOrderWithArraysBitForBit) {
  const Communicator& world = Communicator::world();
  const int rank = world.rank();
  // Values whose text form would round: only their bytes carry them exactly.
  std::vector<double> codes(static_cast<size_t>(rank + 1));
  for (size_t i = 0; i < codes.size(); ++i) codes[i] = 0.1 * (rank + 1) + 1e-17 * i + 1.0 / 3.0;
  const std::vector<int64_t> ids(static_cast<size_t>(rank), int64_t{1} << 60);
  const auto all = allgather_json(world,
                                  {{"rank", rank},
                                   {"name", "r" + std::to_string(rank)},
                                   {"codes", json_bytes(codes)},
                                   {"ids", json_bytes(ids)}},
                                  "the test gather");
  ASSERT_EQ(all.size(), static_cast<size_t>(world.size()));
  for (int r = 0; r < world.size(); ++r) {
    const auto& j = all[static_cast<size_t>(r)];
    EXPECT_EQ(j.at("rank").get<int>(), r);
    EXPECT_EQ(j.at("name").get<std::string>(), "r" + std::to_string(r));
    const std::vector<double> got = from_json_bytes<double>(j.at("codes"), "codes");
    ASSERT_EQ(got.size(), static_cast<size_t>(r + 1));
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_EQ(got[i], 0.1 * (r + 1) + 1e-17 * i + 1.0 / 3.0);  // exact, not near
    EXPECT_EQ(from_json_bytes<int64_t>(j.at("ids"), "ids"),
              std::vector<int64_t>(static_cast<size_t>(r), int64_t{1} << 60));
  }
}

TEST(Gather, ABinaryValueOfTheWrongSizeOrKindIsAnError) {
  const auto three = json_bytes(std::vector<uint8_t>{1, 2, 3});
  EXPECT_THAT(testing::error_of([&] { from_json_bytes<double>(three, "codes"); }),
              HasSubstr("codes: 3 bytes are not a whole number of 8-byte values"));
  EXPECT_THAT(testing::error_of([] { from_json_bytes<double>(nlohmann::ordered_json(1.5), "x"); }),
              HasSubstr("x: expected a binary value, found number"));
}

}  // namespace
}  // namespace tide
