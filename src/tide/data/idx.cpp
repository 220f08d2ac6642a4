#include "tide/data/idx.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include <fmt/ranges.h>

#include "tide/core/error.hpp"

namespace tide {
namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};

// Opens `path` for reading and checks that it is a regular file; returns the descriptor
// and the file's size.
std::pair<int, uint64_t> open_regular(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  TIDE_CHECK(fd >= 0, "{}: cannot open: {}", path, std::strerror(errno));
  struct stat st {};
  const bool stat_failed = ::fstat(fd, &st) != 0;
  if (stat_failed || !S_ISREG(st.st_mode)) {
    const int code = stat_failed ? errno : 0;
    const bool dir = S_ISDIR(st.st_mode);
    ::close(fd);
    TIDE_CHECK(!dir, "{}: is a directory, not an IDX file", path);
    TIDE_FAIL("{}: {}", path,
              code != 0 ? std::strerror(code) : "not a regular file, so not an IDX file");
  }
  return {fd, static_cast<uint64_t>(st.st_size)};
}

// Whether the file starts with the gzip magic bytes 1f 8b.
bool is_gzip(int fd, const std::string& path) {
  uint8_t b[2] = {0, 0};
  ssize_t got;
  do got = ::pread(fd, b, 2, 0);
  while (got < 0 && errno == EINTR);
  if (got < 0) {
    const int code = errno;
    ::close(fd);
    TIDE_FAIL("{}: cannot read: {}", path, std::strerror(code));
  }
  return got == 2 && b[0] == 0x1f && b[1] == 0x8b;
}

// Reads exactly n bytes or as many as there are; returns the count.
size_t read_up_to(gzFile f, uint8_t* out, size_t n, const std::string& path) {
  size_t done = 0;
  while (done < n) {
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - done, 1u << 30));
    const int got = gzread(f, out + done, chunk);
    if (got < 0) {
      int code = 0;
      const char* msg = gzerror(f, &code);
      TIDE_FAIL("{}: cannot read: {}", path, code == Z_ERRNO ? std::strerror(errno) : msg);
    }
    if (got == 0) break;
    done += static_cast<size_t>(got);
  }
  return done;
}

// Reads up to `count` bytes, growing the buffer only as data arrives (doubling, at most 64
// MiB a step), so a stream shorter than its header declares costs only what it holds. A
// plain file's size was checked already, so it is read at once.
std::vector<uint8_t> read_growing(gzFile f, uint64_t count, bool gzip, const std::string& path) {
  const uint64_t first = gzip ? uint64_t{1} << 20 : count, most = gzip ? uint64_t{64} << 20 : count;
  std::vector<uint8_t> data;
  uint64_t done = 0;
  while (done < count) {
    const uint64_t step = std::clamp<uint64_t>(done, first, most);
    const auto target = static_cast<size_t>(std::min(count, done + step));
    data.reserve(target);  // exactly: resize alone may double the capacity
    data.resize(target);
    const size_t want = data.size() - done;
    const size_t got = read_up_to(f, data.data() + done, want, path);
    done += got;
    if (got < want) break;
  }
  data.resize(static_cast<size_t>(done));
  return data;
}

}  // namespace

IdxArray read_idx(const std::string& path) {
  const auto [fd, file_bytes] = open_regular(path);
  const bool gzip = is_gzip(fd, path);
  std::unique_ptr<gzFile_s, GzCloser> f(gzdopen(fd, "rb"));
  if (f == nullptr) {
    ::close(fd);
    TIDE_FAIL("{}: cannot start reading: out of memory", path);
  }
  gzbuffer(f.get(), 1 << 20);
  uint8_t magic[4];
  TIDE_CHECK(read_up_to(f.get(), magic, 4, path) == 4,
             "{}: truncated: shorter than the 4-byte IDX magic number", path);
  const uint32_t m = (uint32_t{magic[0]} << 24) | (uint32_t{magic[1]} << 16) |
                     (uint32_t{magic[2]} << 8) | magic[3];
  TIDE_CHECK(magic[0] == 0 && magic[1] == 0 && magic[3] >= 1 && magic[3] <= 4,
             "{}: not an IDX file: magic number 0x{:08x}, expected 0x000008NN with 1 <= NN <= 4",
             path, m);
  TIDE_CHECK(magic[2] == 0x08,
             "{}: IDX element type 0x{:02x} is not supported (magic 0x{:08x}); expected 0x08, "
             "unsigned bytes",
             path, magic[2], m);
  IdxArray a;
  uint64_t declared = 1;
  bool overflow = false, zero = false;  // a zero size makes 0 bytes, even after an overflow
  double approximate = 1;               // the product, for the message
  for (int d = 0; d < magic[3]; ++d) {
    uint8_t b[4];
    TIDE_CHECK(read_up_to(f.get(), b, 4, path) == 4,
               "{}: truncated header: expected {} dimension sizes, found {}", path, magic[3], d);
    const uint32_t size =
        (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
    a.dims.push_back(size);
    zero = zero || size == 0;
    overflow = __builtin_mul_overflow(declared, uint64_t{size}, &declared) || overflow;
    approximate *= size;
  }
  if (zero) declared = 0;
  TIDE_CHECK(zero || (!overflow && declared <= kMaxIdxBytes),
             "{}: the header declares dimensions {} ({:.4g} bytes), more than the {} bytes (16 "
             "GiB) an IDX file may hold",
             path, fmt::join(a.dims, "x"), approximate, kMaxIdxBytes);
  const uint64_t count = declared;
  const uint64_t header = 4 + 4 * uint64_t{magic[3]};
  if (!gzip) {  // the file's size tells what is there before anything is allocated
    const uint64_t present = file_bytes - std::min(file_bytes, header);
    TIDE_CHECK(present >= count,
               "{}: truncated: expected {} data bytes after the header (dimensions {}), found {}",
               path, count, fmt::join(a.dims, "x"), present);
  }
  a.data = read_growing(f.get(), count, gzip, path);
  TIDE_CHECK(a.data.size() == count,
             "{}: truncated: expected {} data bytes after the header (dimensions {}), found {}",
             path, count, fmt::join(a.dims, "x"), a.data.size());
  uint8_t extra;
  TIDE_CHECK(read_up_to(f.get(), &extra, 1, path) == 0,
             "{}: more data than the header declares (dimensions {}, {} bytes): the header or "
             "the file is corrupt",
             path, fmt::join(a.dims, "x"), count);
  return a;
}

}  // namespace tide
