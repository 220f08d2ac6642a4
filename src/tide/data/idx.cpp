#include "tide/data/idx.hpp"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "tide/core/error.hpp"

namespace tide {
namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};

// Reads exactly n bytes or as many as there are; returns the count.
size_t read_up_to(gzFile f, uint8_t* out, size_t n, const std::string& path) {
  size_t done = 0;
  while (done < n) {
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - done, 1u << 30));
    const int got = gzread(f, out + done, chunk);
    if (got < 0) {
      int code = 0;
      const char* msg = gzerror(f, &code);
      TIDE_FAIL("{}: cannot read at byte {}: {}", path, done, msg);
    }
    if (got == 0) break;
    done += static_cast<size_t>(got);
  }
  return done;
}

}  // namespace

IdxArray read_idx(const std::string& path) {
  std::unique_ptr<gzFile_s, GzCloser> f(gzopen(path.c_str(), "rb"));
  TIDE_CHECK(f != nullptr, "{}: cannot open: {}", path, std::strerror(errno ? errno : ENOENT));
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
  uint64_t count = 1;
  for (int d = 0; d < magic[3]; ++d) {
    uint8_t b[4];
    TIDE_CHECK(read_up_to(f.get(), b, 4, path) == 4,
               "{}: truncated header: expected {} dimension sizes, found {}", path, magic[3], d);
    const uint32_t size =
        (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
    a.dims.push_back(size);
    count *= size;
    TIDE_CHECK(count <= (uint64_t{1} << 36), "{}: declared size {} is implausibly large", path,
               count);
  }
  a.data.resize(count);
  const size_t got = read_up_to(f.get(), a.data.data(), count, path);
  TIDE_CHECK(got == count, "{}: truncated: expected {} data bytes after the header, found {}", path,
             count, got);
  return a;
}

}  // namespace tide
