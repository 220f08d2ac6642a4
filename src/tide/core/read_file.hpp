// A whole file's bytes.
#pragma once

#include <string>

namespace tide {

// Reads `path` whole; throws tide::Error naming the path when it cannot be opened or read.
std::string read_file_bytes(const std::string& path);

}  // namespace tide
