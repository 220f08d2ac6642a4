#include "tide/distributed/communicator.hpp"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "tide/core/log.hpp"
#include "tide/distributed/stall_watchdog.hpp"

namespace tide {
namespace {

bool g_initialised = false;  // by us: MPI_Init_thread ran in this process
bool g_finalised = false;

std::string mpi_message(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return std::string(text, static_cast<size_t>(length));
}

#define TIDE_MPI(call, what)                                            \
  do {                                                                  \
    const int tide_mpi_code = (call);                                   \
    TIDE_CHECK(tide_mpi_code == MPI_SUCCESS, "MPI {} failed: {}", what, \
               mpi_message(tide_mpi_code));                             \
  } while (0)

MPI_Datatype mpi_type(DType t) {
  switch (t) {
    case DType::f32:
      return MPI_FLOAT;
    case DType::f64:
      return MPI_DOUBLE;
    case DType::i64:
      return MPI_INT64_T;
  }
  TIDE_FAIL("no MPI type for dtype {}", dtype_name(t));
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum:
      return MPI_SUM;
    case ReduceOp::max:
      return MPI_MAX;
    case ReduceOp::min:
      return MPI_MIN;
  }
  return MPI_SUM;
}

// MPI counts are int: longer buffers go in pieces of at most this many elements.
constexpr int64_t kMaxCount = INT_MAX / 2;

// Records a wait in the stall watch for the lifetime of the scope.
class Waiting {
 public:
  Waiting(StallWatch& w, const std::string& what) : w_(w) { w_.begin(what); }
  ~Waiting() { w_.end(); }

 private:
  StallWatch& w_;
};

}  // namespace

void StallWatch::begin(std::string what) {
  std::lock_guard lock(mutex_);
  what_ = std::move(what);
  since_ = std::chrono::steady_clock::now();
  waiting_ = true;
  ++count_;
}

int64_t StallWatch::count() const {
  std::lock_guard lock(mutex_);
  return count_;
}

void StallWatch::end() {
  std::lock_guard lock(mutex_);
  waiting_ = false;
}

std::pair<std::string, double> StallWatch::current() const {
  std::lock_guard lock(mutex_);
  if (!waiting_) return {};
  return {what_, std::chrono::duration<double>(std::chrono::steady_clock::now() - since_).count()};
}

struct Communicator::Handle {
  MPI_Comm comm = MPI_COMM_NULL;
  ~Handle() {
    if (comm != MPI_COMM_NULL && comm != MPI_COMM_WORLD && !g_finalised) MPI_Comm_free(&comm);
  }
};

Communicator::Communicator() : watch_(std::make_shared<StallWatch>()) {}
Communicator::~Communicator() = default;

int64_t Communicator::collectives() const {
  return watch_->count();
}

bool Communicator::launched_by_mpi() {
  // OpenMPI's mpirun, PMIx (OpenMPI and srun), and PMI-1/2 launchers (MPICH's hydra, srun).
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(var) != nullptr) return true;
  return false;
}

Communicator& Communicator::world() {
  static Communicator* world = [] {
    auto* c = new Communicator;
    if (!launched_by_mpi()) return c;
    int provided = MPI_THREAD_SINGLE;
    TIDE_MPI(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided), "init");
    g_initialised = true;
    std::atexit(&Communicator::finalize);
    TIDE_CHECK(provided >= MPI_THREAD_SERIALIZED,
               "this MPI library gives thread level {}, and Tide needs MPI_THREAD_SERIALIZED "
               "(one thread at a time)",
               provided);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    c->handle_ = std::make_shared<Handle>();
    c->handle_->comm = MPI_COMM_WORLD;
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size_);
    MPI_Comm node;
    TIDE_MPI(
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, c->rank_, MPI_INFO_NULL, &node),
        "split by node");
    MPI_Comm_size(node, &c->local_size_);
    MPI_Comm_free(&node);
    if (c->size_ > 1) set_log_prefix(fmt::format("rank {}/{}", c->rank_, c->size_));
    return c;
  }();
  return *world;
}

void Communicator::finalize() {
  if (!g_initialised || g_finalised) return;
  g_finalised = true;
  MPI_Finalize();
}

void Communicator::abort_job(int status) {
  if (g_initialised && !g_finalised && world().size() > 1) MPI_Abort(MPI_COMM_WORLD, status);
}

template <class T>
void Communicator::allreduce_raw(T* data, int64_t n, ReduceOp op, const std::string& what) const {
  if (!handle_ || n == 0) return;
  const MPI_Datatype type = mpi_type(dtype_of<T>());
  Waiting wait(*watch_, what);
  for (int64_t begin = 0; begin < n; begin += kMaxCount) {
    const int count = static_cast<int>(std::min(kMaxCount, n - begin));
    TIDE_MPI(MPI_Allreduce(MPI_IN_PLACE, data + begin, count, type, mpi_op(op), handle_->comm),
             what);
  }
}

void Communicator::allreduce(float* data, int64_t n, ReduceOp op, const std::string& what) const {
  allreduce_raw(data, n, op, what);
}
void Communicator::allreduce(double* data, int64_t n, ReduceOp op, const std::string& what) const {
  allreduce_raw(data, n, op, what);
}

namespace {

// f32 to bf16, rounded to nearest even; a NaN stays a (quiet) NaN.
uint16_t to_bf16(float x) {
  uint32_t bits = 0;
  std::memcpy(&bits, &x, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

float from_bf16(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float x = 0;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

// Elements per all-to-all and allgather round (64 MB of f32): each rank's slice stays far
// below INT_MAX, and the buffers of a round far below the gradients' size.
constexpr int64_t kBf16Round = int64_t{1} << 24;

}  // namespace

void Communicator::allreduce_bf16(float* data, int64_t n, const std::string& what) const {
  if (!handle_) {  // a world of one: its values, rounded as the sum of many would be
    for (int64_t i = 0; i < n; ++i) data[i] = from_bf16(to_bf16(data[i]));
    return;
  }
  if (n == 0) return;
  Waiting wait(*watch_, what);
  const auto ranks = static_cast<int64_t>(size_);
  std::vector<uint16_t> mine, theirs;
  std::vector<float> sum;
  for (int64_t begin = 0; begin < n; begin += kBf16Round) {
    const int64_t count = std::min(kBf16Round, n - begin);
    const int64_t slice = (count + ranks - 1) / ranks;  // the last slices are padded with 0
    mine.assign(static_cast<size_t>(slice * ranks), 0);
    theirs.resize(mine.size());
    for (int64_t i = 0; i < count; ++i) mine[static_cast<size_t>(i)] = to_bf16(data[begin + i]);
    TIDE_MPI(MPI_Alltoall(mine.data(), static_cast<int>(slice), MPI_UINT16_T, theirs.data(),
                          static_cast<int>(slice), MPI_UINT16_T, handle_->comm),
             what);
    // theirs holds slice `rank_` of every rank, rank by rank: summed in rank order.
    sum.assign(static_cast<size_t>(slice), 0.0f);
    for (int64_t r = 0; r < ranks; ++r)
      for (int64_t i = 0; i < slice; ++i)
        sum[static_cast<size_t>(i)] += from_bf16(theirs[static_cast<size_t>(r * slice + i)]);
    for (int64_t i = 0; i < slice; ++i)
      theirs[static_cast<size_t>(i)] = to_bf16(sum[static_cast<size_t>(i)]);
    TIDE_MPI(MPI_Allgather(theirs.data(), static_cast<int>(slice), MPI_UINT16_T, mine.data(),
                           static_cast<int>(slice), MPI_UINT16_T, handle_->comm),
             what);
    for (int64_t i = 0; i < count; ++i) data[begin + i] = from_bf16(mine[static_cast<size_t>(i)]);
  }
}

void Communicator::allreduce(Tensor& t, ReduceOp op, const std::string& what) const {
  switch (t.dtype()) {
    case DType::f32:
      return allreduce_raw(t.data<float>(), t.numel(), op, what);
    case DType::f64:
      return allreduce_raw(t.data<double>(), t.numel(), op, what);
    case DType::i64:
      return allreduce_raw(t.data<int64_t>(), t.numel(), op, what);
  }
}

void Communicator::broadcast(Tensor& t, int root, const std::string& what) const {
  TIDE_CHECK(root >= 0 && root < size_, "{}: root {} is not a rank of a world of {}", what, root,
             size_);
  if (!handle_ || t.numel() == 0) return;
  Waiting wait(*watch_, what);
  auto* bytes = static_cast<char*>(t.raw_data());
  const int64_t n = static_cast<int64_t>(t.nbytes());
  for (int64_t begin = 0; begin < n; begin += kMaxCount) {
    const int count = static_cast<int>(std::min(kMaxCount, n - begin));
    TIDE_MPI(MPI_Bcast(bytes + begin, count, MPI_BYTE, root, handle_->comm), what);
  }
}

Tensor Communicator::allgather(const Tensor& t, const std::string& what) const {
  std::vector<int64_t> dims = t.shape().dims();
  dims.insert(dims.begin(), size_);
  Tensor out = Tensor::empty(Shape(dims), t.dtype());
  if (!handle_) {
    out.copy_from(t.reshape(out.shape()));
    return out;
  }
  const int64_t n = static_cast<int64_t>(t.nbytes());
  TIDE_CHECK(n <= kMaxCount, "{}: {} bytes per rank is more than one allgather carries", what, n);
  Waiting wait(*watch_, what);
  TIDE_MPI(MPI_Allgather(t.raw_data(), static_cast<int>(n), MPI_BYTE, out.raw_data(),
                         static_cast<int>(n), MPI_BYTE, handle_->comm),
           what);
  return out;
}

namespace {

// The parts of `all` at `offsets`, `lengths` long.
std::vector<std::string> split_parts(const std::string& all, const std::vector<int>& offsets,
                                     const std::vector<int>& lengths) {
  std::vector<std::string> out;
  for (size_t r = 0; r < lengths.size(); ++r)
    out.push_back(all.substr(static_cast<size_t>(offsets[r]), static_cast<size_t>(lengths[r])));
  return out;
}

// Offsets of parts `lengths` long laid end to end; throws when they add up to more than one
// collective carries.
std::vector<int> offsets_of(const std::vector<int>& lengths, const std::string& what) {
  std::vector<int> offsets(lengths.size(), 0);
  int64_t total = 0;
  for (size_t r = 0; r < lengths.size(); ++r) {
    offsets[r] = static_cast<int>(std::min<int64_t>(total, kMaxCount));
    total += lengths[r];
  }
  TIDE_CHECK(total <= kMaxCount, "{}: {} bytes in all is more than one collective carries", what,
             total);
  return offsets;
}

}  // namespace

Communicator::StringLayout Communicator::string_layout(const std::string& s,
                                                       const std::string& what) const {
  // Every rank learns every length before any is checked, so that a string or a total too
  // large fails on all alike.
  const int64_t length = static_cast<int64_t>(s.size());
  std::vector<int64_t> all(static_cast<size_t>(size_));
  TIDE_MPI(MPI_Allgather(&length, 1, MPI_INT64_T, all.data(), 1, MPI_INT64_T, handle_->comm), what);
  StringLayout l;
  for (size_t r = 0; r < all.size(); ++r) {
    TIDE_CHECK(all[r] <= kMaxCount, "{}: rank {}'s string of {} bytes is too long", what, r,
               all[r]);
    l.lengths.push_back(static_cast<int>(all[r]));
  }
  l.offsets = offsets_of(l.lengths, what);
  return l;
}

std::vector<std::string> Communicator::allgather(const std::string& s,
                                                 const std::string& what) const {
  if (!handle_) return {s};
  Waiting wait(*watch_, what);
  const auto [lengths, offsets] = string_layout(s, what);
  std::string all(static_cast<size_t>(offsets.back()) + static_cast<size_t>(lengths.back()), '\0');
  TIDE_MPI(MPI_Allgatherv(s.data(), static_cast<int>(s.size()), MPI_CHAR, all.data(),
                          lengths.data(), offsets.data(), MPI_CHAR, handle_->comm),
           what);
  return split_parts(all, offsets, lengths);
}

std::vector<std::string> Communicator::gather(const std::string& s, int root,
                                              const std::string& what) const {
  if (!handle_) return {s};
  Waiting wait(*watch_, what);
  const auto [lengths, offsets] = string_layout(s, what);
  const bool here = rank_ == root;
  std::string all;
  if (here) all.resize(static_cast<size_t>(offsets.back()) + static_cast<size_t>(lengths.back()));
  TIDE_MPI(MPI_Gatherv(s.data(), static_cast<int>(s.size()), MPI_CHAR, all.data(), lengths.data(),
                       offsets.data(), MPI_CHAR, root, handle_->comm),
           what);
  return here ? split_parts(all, offsets, lengths) : std::vector<std::string>{};
}

void Communicator::barrier(const std::string& what) const {
  if (!handle_) return;
  Waiting wait(*watch_, what);
  TIDE_MPI(MPI_Barrier(handle_->comm), what);
}

void Communicator::quiet_barrier(const std::string& what) const {
  if (!handle_) return;
  Waiting wait(*watch_, what);
  MPI_Request request = MPI_REQUEST_NULL;
  TIDE_MPI(MPI_Ibarrier(handle_->comm, &request), what);
  for (int done = 0;;) {
    TIDE_MPI(MPI_Test(&request, &done, MPI_STATUS_IGNORE), what);
    if (done) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

Communicator Communicator::split(int color) const {
  TIDE_CHECK(color >= 0, "split: the color must be >= 0, got {}", color);
  Communicator c;
  if (!handle_) return c;
  auto h = std::make_shared<Handle>();
  TIDE_MPI(MPI_Comm_split(handle_->comm, color, rank_, &h->comm), "split");
  MPI_Comm_set_errhandler(h->comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(h->comm, &c.rank_);
  MPI_Comm_size(h->comm, &c.size_);
  MPI_Comm node;
  TIDE_MPI(MPI_Comm_split_type(h->comm, MPI_COMM_TYPE_SHARED, c.rank_, MPI_INFO_NULL, &node),
           "split by node");
  MPI_Comm_size(node, &c.local_size_);
  MPI_Comm_free(&node);
  c.handle_ = std::move(h);
  c.watch_ = watch_;
  return c;
}

StallWatchdog::StallWatchdog(const Communicator& comm, double timeout_s)
    : watch_(comm.stall_watch()), rank_(comm.rank()), timeout_s_(timeout_s) {
  TIDE_CHECK(timeout_s > 0, "--stall-timeout must be positive, got {}", timeout_s);
  thread_ = std::thread([this] {
    std::string reported;
    while (!stop_.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const auto [what, seconds] = watch_->current();
      if (what.empty() || seconds < timeout_s_) {
        reported.clear();
        continue;
      }
      if (what == reported) continue;
      log_warn("stalled: rank {} has waited {:.1f} s (--stall-timeout {}) in {}", rank_, seconds,
               timeout_s_, what);
      reported = what;
    }
  });
}

StallWatchdog::~StallWatchdog() {
  stop_ = true;
  thread_.join();
}

}  // namespace tide
