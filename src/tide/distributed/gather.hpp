// The one way the applications gather results to every rank: a JSON value per rank, sent as
// CBOR. Bulk arrays go in as JSON binary values (json_bytes), which CBOR carries as their
// raw bytes, so a million codes cost their 8 bytes each and nothing for text.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tide/core/error.hpp"
#include "tide/distributed/communicator.hpp"

namespace tide {

// Every rank's `value`, in rank order, on every rank (a collective).
std::vector<nlohmann::ordered_json> allgather_json(const Communicator& comm,
                                                   const nlohmann::ordered_json& value,
                                                   const std::string& what);

// A vector of plain values as a JSON binary value, and back; `what` names it in the error
// when `j` is not such a value or its size is not a whole number of T.
template <typename T>
nlohmann::ordered_json json_bytes(const std::vector<T>& v) {
  std::vector<uint8_t> bytes(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(bytes.data(), v.data(), bytes.size());
  return nlohmann::ordered_json::binary(std::move(bytes));
}

template <typename T>
std::vector<T> from_json_bytes(const nlohmann::ordered_json& j, const std::string& what) {
  TIDE_CHECK(j.is_binary(), "{}: expected a binary value, found {}", what, j.type_name());
  const auto& bytes = j.get_binary();
  TIDE_CHECK(bytes.size() % sizeof(T) == 0, "{}: {} bytes are not a whole number of {}-byte values",
             what, bytes.size(), sizeof(T));
  std::vector<T> v(bytes.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), bytes.data(), bytes.size());
  return v;
}

}  // namespace tide
