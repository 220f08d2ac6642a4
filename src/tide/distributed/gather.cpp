#include "tide/distributed/gather.hpp"

namespace tide {

std::vector<nlohmann::ordered_json> allgather_json(const Communicator& comm,
                                                   const nlohmann::ordered_json& value,
                                                   const std::string& what) {
  const std::vector<uint8_t> cbor = nlohmann::ordered_json::to_cbor(value);
  const std::vector<std::string> parts =
      comm.allgather(std::string(cbor.begin(), cbor.end()), what);
  std::vector<nlohmann::ordered_json> out;
  out.reserve(parts.size());
  for (size_t r = 0; r < parts.size(); ++r) {
    try {
      out.push_back(nlohmann::ordered_json::from_cbor(parts[r]));
    } catch (const nlohmann::json::exception& e) {
      TIDE_FAIL("{}: rank {} sent what is not CBOR: {}", what, r, e.what());
    }
  }
  return out;
}

}  // namespace tide
