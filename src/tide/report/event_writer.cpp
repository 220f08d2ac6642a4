#include "tide/report/event_writer.hpp"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "event.pb.h"  // generated from train/event.proto
#include "tide/core/error.hpp"

namespace tide {
namespace {

// The table of the reflected Castagnoli polynomial 0x82F63B78, one byte at a time.
std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}

double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

uint32_t crc32c(std::string_view bytes) {
  static const std::array<uint32_t, 256> table = make_table();
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(std::string_view bytes) {
  const uint32_t c = crc32c(bytes);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

EventWriter::EventWriter(const std::string& dir) {
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  path_ =
      fmt::format("{}/events.out.tfevents.{}.{}", dir, static_cast<int64_t>(unix_seconds()), host);
  file_ = std::fopen(path_.c_str(), "wb");
  TIDE_CHECK(file_ != nullptr, "{}: cannot create: {}", path_, std::strerror(errno));
  tensorboard::Event e;
  e.set_wall_time(unix_seconds());
  e.set_file_version("brain.Event:2");
  write_record(e.SerializeAsString());
}

EventWriter::~EventWriter() {
  if (file_) std::fclose(file_);
}

void EventWriter::scalar(const std::string& tag, int64_t step, double value) {
  tensorboard::Event e;
  e.set_wall_time(unix_seconds());
  e.set_step(step);
  tensorboard::SummaryValue* v = e.mutable_summary()->add_value();
  v->set_tag(tag);
  v->set_simple_value(static_cast<float>(value));
  write_record(e.SerializeAsString());
}

void EventWriter::write_record(std::string_view data) {
  const uint64_t length = data.size();
  const std::string_view length_bytes(reinterpret_cast<const char*>(&length), 8);
  const uint32_t length_crc = masked_crc32c(length_bytes), data_crc = masked_crc32c(data);
  const bool ok = std::fwrite(&length, 8, 1, file_) == 1 &&
                  std::fwrite(&length_crc, 4, 1, file_) == 1 &&
                  std::fwrite(data.data(), 1, data.size(), file_) == data.size() &&
                  std::fwrite(&data_crc, 4, 1, file_) == 1 && std::fflush(file_) == 0;
  TIDE_CHECK(ok, "{}: write failed: {}", path_, std::strerror(errno));
}

}  // namespace tide
