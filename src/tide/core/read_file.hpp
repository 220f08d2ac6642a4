// A whole file's bytes: read into memory, or mapped.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace tide {

// Reads the regular file `path` whole. Throws tide::Error naming the path when it cannot be
// opened or read, is not a regular file (a directory, a device such as /dev/zero, a pipe),
// or holds more than `max_bytes` (checked before anything is allocated; `what` names what
// the file should be, for that message).
std::string read_file_bytes(const std::string& path,
                            uint64_t max_bytes = std::numeric_limits<uint64_t>::max(),
                            const char* what = "this file");

// The regular file `path` mapped read-only into memory: its pages are read when touched and
// may be dropped again under memory pressure, so a file larger than memory can be read.
// Throws as read_file_bytes does. The file must not shrink while it is mapped.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const std::string& path() const { return path_; }
  std::string_view bytes() const { return {data_, size_}; }
  // Tells the kernel that the pages of bytes [offset, offset + length) will be touched in no
  // order (a shuffled dataset): it then reads only the page touched, not the tens of pages
  // of readahead after it, which for a file larger than memory would be read and dropped
  // again unused.
  void expect_random_access(size_t offset, size_t length) const;

 private:
  std::string path_;
  const char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace tide
