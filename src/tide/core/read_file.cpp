#include "tide/core/read_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "tide/core/error.hpp"

namespace tide {
namespace {

struct FdCloser {
  int fd;
  ~FdCloser() { ::close(fd); }
};

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  if (S_ISFIFO(mode)) return "a pipe";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

}  // namespace

std::string read_file_bytes(const std::string& path, uint64_t max_bytes, const char* what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  TIDE_CHECK(fd >= 0, "{}: cannot open: {}", path, std::strerror(errno));
  const FdCloser closer{fd};
  struct stat st {};
  TIDE_CHECK(::fstat(fd, &st) == 0, "{}: cannot stat: {}", path, std::strerror(errno));
  TIDE_CHECK(S_ISREG(st.st_mode), "{}: is {}; expected a regular file", path, kind_of(st.st_mode));
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  TIDE_CHECK(size <= max_bytes, "{}: {} bytes, more than the {} bytes {} may hold", path, size,
             max_bytes, what);
  std::string bytes;
  try {
    bytes.resize(size);
  } catch (const std::bad_alloc&) {
    TIDE_FAIL("{}: out of memory reading its {} bytes", path, size);
  }
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, bytes.data() + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    TIDE_CHECK(n >= 0, "{}: read failed at byte {}: {}", path, done, std::strerror(errno));
    TIDE_CHECK(n > 0, "{}: the file shrank to {} bytes while being read (it had {})", path, done,
               size);
    done += static_cast<size_t>(n);
  }
  return bytes;
}

}  // namespace tide
