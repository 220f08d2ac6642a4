// Fault injection for the tests of `tide` (LD_PRELOAD): the malloc family fails, returning
// null with errno ENOMEM, for any request above TIDE_FAIL_ALLOC_ABOVE bytes, as on a machine
// out of memory; operator new then throws std::bad_alloc. Smaller requests go to glibc's
// own allocator, so the program otherwise runs as it would.
#include <cerrno>
#include <cstddef>
#include <cstdlib>

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
}

namespace {

size_t limit() {
  // getenv does not allocate; a race between threads reads the same value.
  static size_t cached = 0;
  if (cached == 0) {
    const char* v = std::getenv("TIDE_FAIL_ALLOC_ABOVE");
    cached = v != nullptr ? std::strtoull(v, nullptr, 10) : static_cast<size_t>(-1);
    if (cached == 0) cached = static_cast<size_t>(-1);
  }
  return cached;
}

bool refuse(size_t bytes) {
  if (bytes <= limit()) return false;
  errno = ENOMEM;
  return true;
}

}  // namespace

extern "C" {

void* malloc(size_t n) {
  return refuse(n) ? nullptr : __libc_malloc(n);
}

void* calloc(size_t n, size_t size) {
  return n != 0 && refuse(n * size) ? nullptr : __libc_calloc(n, size);
}

void* realloc(void* p, size_t n) {
  return refuse(n) ? nullptr : __libc_realloc(p, n);
}

void* memalign(size_t alignment, size_t n) {
  return refuse(n) ? nullptr : __libc_memalign(alignment, n);
}

void* aligned_alloc(size_t alignment, size_t n) {
  return memalign(alignment, n);
}

int posix_memalign(void** out, size_t alignment, size_t n) {
  if (refuse(n)) return ENOMEM;
  void* p = __libc_memalign(alignment, n);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}

}  // extern "C"
