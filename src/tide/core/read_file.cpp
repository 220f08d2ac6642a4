#include "tide/core/read_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

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

// `path` opened for reading, with its size: throws naming it when it cannot be opened or is
// not a regular file.
struct OpenFile {
  int fd;
  uint64_t size;
};
OpenFile open_regular(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  TIDE_CHECK(fd >= 0, "{}: cannot open: {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    TIDE_FAIL("{}: cannot stat: {}", path, std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    TIDE_FAIL("{}: is {}; expected a regular file", path, kind_of(st.st_mode));
  }
  return {fd, static_cast<uint64_t>(st.st_size)};
}

}  // namespace

std::string read_file_bytes(const std::string& path, uint64_t max_bytes, const char* what) {
  const auto [fd, size] = open_regular(path);
  const FdCloser closer{fd};
  // The size fstat reports is where reading starts, not where it stops: files in /proc
  // report 0, and a file can grow while it is read.
  TIDE_CHECK(size <= max_bytes, "{}: {} bytes, more than the {} bytes {} may hold", path, size,
             max_bytes, what);
  const uint64_t limit = max_bytes < UINT64_MAX ? max_bytes + 1 : max_bytes;  // sees "more"
  std::string bytes;
  size_t done = 0;
  try {
    bytes.resize(static_cast<size_t>(size) + 1);  // + 1: the end is seen in the first reads
    for (;;) {
      if (done == bytes.size()) {
        TIDE_CHECK(done <= max_bytes, "{}: more than the {} bytes {} may hold", path, max_bytes,
                   what);
        bytes.resize(static_cast<size_t>(std::min<uint64_t>(2 * uint64_t{done}, limit)));
      }
      const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      TIDE_CHECK(n >= 0, "{}: read failed at byte {}: {}", path, done, std::strerror(errno));
      if (n == 0) break;
      done += static_cast<size_t>(n);
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception&) {  // bad_alloc, or length_error for a sparse file of exabytes
    TIDE_FAIL("{}: out of memory reading its {} bytes", path, size);
  }
  bytes.resize(done);
  return bytes;
}

MappedFile::MappedFile(const std::string& path) : path_(path) {
  const auto [fd, size] = open_regular(path);
  const FdCloser closer{fd};
  size_ = static_cast<size_t>(size);
  if (size_ == 0) return;  // mmap refuses an empty range; there is nothing to map
  void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  TIDE_CHECK(p != MAP_FAILED, "{}: cannot map its {} bytes: {}", path, size_, std::strerror(errno));
  data_ = static_cast<const char*>(p);
}

void MappedFile::expect_random_access(size_t offset, size_t length) const {
  if (data_ == nullptr || offset >= size_) return;
  // madvise takes whole pages: those inside the range (a page shared with bytes outside it
  // keeps its readahead). Advice only: if the kernel takes none, nothing else changes.
  const auto page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const auto base = reinterpret_cast<uintptr_t>(data_);
  const uintptr_t first = (base + offset + page - 1) / page * page;
  const uintptr_t last = (base + std::min(size_, offset + length)) / page * page;
  if (first < last) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_RANDOM);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<char*>(data_), size_);
}

}  // namespace tide
