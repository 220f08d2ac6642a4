// Small helpers for the files a run writes.
#pragma once

#include <string>

namespace tide {

// The local time as YYYYmmdd-HHMMSS, for default directory names.
std::string local_time_stamp();

// Creates `path` and its parents if missing; throws tide::Error "<path>: cannot create the
// <what>: <reason>" on failure.
void create_directory(const std::string& path, const std::string& what);

// Writes `text` to `path`, replacing it; throws tide::Error naming the path on failure.
void write_text_file(const std::string& path, const std::string& text);

}  // namespace tide
