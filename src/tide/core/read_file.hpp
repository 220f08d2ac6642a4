// A whole file's bytes.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

namespace tide {

// Reads the regular file `path` whole. Throws tide::Error naming the path when it cannot be
// opened or read, is not a regular file (a directory, a device such as /dev/zero, a pipe),
// or holds more than `max_bytes` (checked before anything is allocated; `what` names what
// the file should be, for that message).
std::string read_file_bytes(const std::string& path,
                            uint64_t max_bytes = std::numeric_limits<uint64_t>::max(),
                            const char* what = "this file");

}  // namespace tide
