// TensorBoard event files: scalar summaries in the record format TensorBoard reads. Each
// record is a little-endian uint64 length, the masked CRC-32C of those 8 bytes, a
// serialized Event protobuf, and the masked CRC-32C of it. The file is
// <dir>/events.out.tfevents.<unix time>.<host>, and starts with the file-version event.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace tide {

class EventWriter {
 public:
  // Creates the event file in `dir` (which must exist); throws naming it on failure.
  explicit EventWriter(const std::string& dir);
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  const std::string& path() const { return path_; }
  // One scalar at a step; written through at once (flushed).
  void scalar(const std::string& tag, int64_t step, double value);

 private:
  void write_record(std::string_view data);
  std::string path_;
  std::FILE* file_ = nullptr;
};

// CRC-32C (Castagnoli) of `bytes`, and TensorBoard's mask of it.
uint32_t crc32c(std::string_view bytes);
uint32_t masked_crc32c(std::string_view bytes);

}  // namespace tide
