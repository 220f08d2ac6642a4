#include "tide/distributed/reducer.hpp"

#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "tide/core/trace.hpp"

namespace tide {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

std::vector<BucketLayout> bucket_layout(const std::vector<int64_t>& elements, int64_t element_bytes,
                                        const ReducerOptions& options) {
  std::vector<BucketLayout> layout;
  for (int i = static_cast<int>(elements.size()) - 1; i >= 0; --i) {
    // Reverse order: backward completes the last ones first. The small first bucket starts
    // communication early; without overlap it would only add a call.
    const int64_t e = elements[static_cast<size_t>(i)];
    const int64_t cap =
        layout.size() == 1 && options.overlap ? options.first_bucket_bytes : options.bucket_bytes;
    if (layout.empty() ||
        (!layout.back().parameters.empty() && (layout.back().elements + e) * element_bytes > cap))
      layout.emplace_back();
    layout.back().parameters.push_back(i);
    layout.back().elements += e;
  }
  return layout;
}

Reducer::Reducer(std::vector<Variable> parameters, Communicator comm, ReducerOptions options)
    : parameters_(std::move(parameters)),
      comm_(std::move(comm)),
      overlap_(options.overlap),
      compression_(options.compression) {
  TIDE_CHECK(options.bucket_bytes > 0 && options.first_bucket_bytes > 0,
             "reducer: bucket sizes must be positive, got {} and {} bytes", options.bucket_bytes,
             options.first_bucket_bytes);
  const int n = static_cast<int>(parameters_.size());
  if (n > 0) dtype_ = parameters_[0].dtype();
  TIDE_CHECK(dtype_ == DType::f32 || dtype_ == DType::f64,
             "reducer: parameters must be f32 or f64, got {}", dtype_name(dtype_));
  TIDE_CHECK(compression_ == GradCompression::none || dtype_ == DType::f32,
             "reducer: bf16 gradient compression needs f32 parameters, got {}", dtype_name(dtype_));
  bucket_of_.assign(static_cast<size_t>(n), 0);
  offset_.assign(static_cast<size_t>(n), 0);
  param_done_.assign(static_cast<size_t>(n), false);
  std::vector<int64_t> elements(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const Variable& p = parameters_[static_cast<size_t>(i)];
    TIDE_CHECK(p.dtype() == dtype_, "reducer: parameter {} is {}, the others {}", i,
               dtype_name(p.dtype()), dtype_name(dtype_));
    TIDE_CHECK(p.requires_grad() && p.is_leaf(),
               "reducer: parameter {} ({}) is not a leaf that requires a gradient", i,
               p.value().str());
    elements[static_cast<size_t>(i)] = p.numel();
  }
  layout_ = bucket_layout(elements, static_cast<int64_t>(dtype_size(dtype_)), options);
  for (size_t b = 0; b < layout_.size(); ++b) {
    int64_t offset = 0;
    for (const int i : layout_[b].parameters) {
      bucket_of_[static_cast<size_t>(i)] = static_cast<int>(b);
      offset_[static_cast<size_t>(i)] = offset;
      offset += elements[static_cast<size_t>(i)];
    }
  }
  buckets_.resize(layout_.size());
  for (int i = 0; i < n; ++i)
    parameters_[static_cast<size_t>(i)].set_grad_ready_hook(
        [this, i](Variable& v) { on_ready(i, v.grad()); });
  thread_ = std::thread([this] { run(); });
}

Reducer::~Reducer() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
    changed_.notify_all();
  }
  thread_.join();
  for (Variable& p : parameters_) {
    p.set_grad_ready_hook(nullptr);
    p.set_grad_buffer(Tensor());
  }
}

void Reducer::prepare(int64_t step) {
  std::lock_guard lock(mutex_);
  TIDE_CHECK(!armed_, "reducer: prepare() for step {} before finish() of step {}", step, step_);
  for (size_t b = 0; b < buckets_.size(); ++b) {
    Bucket& bucket = buckets_[b];
    // Last step's gradients are views of the buffer; if anything still holds one, leave it.
    if (!bucket.buffer.defined() || !bucket.buffer.sole_owner())
      bucket.buffer = Tensor::empty({layout_[b].elements}, dtype_);
    bucket.pending = static_cast<int>(layout_[b].parameters.size());
    bucket.ready = false;
  }
  for (size_t i = 0; i < parameters_.size(); ++i) {
    Variable& p = parameters_[i];
    const Tensor& buffer = buckets_[static_cast<size_t>(bucket_of_[i])].buffer;
    p.set_grad_buffer(buffer.slice(offset_[i], offset_[i] + p.numel()).reshape(p.shape()));
  }
  std::fill(param_done_.begin(), param_done_.end(), false);
  next_ = 0;
  step_ = step;
  allreduce_s_ = 0;
  armed_ = true;
}

void Reducer::on_ready(int index, const Tensor& grad) {
  const size_t i = static_cast<size_t>(index);
  if (!armed_ || param_done_[i]) return;
  Bucket& bucket = buckets_[static_cast<size_t>(bucket_of_[i])];
  const int64_t n = parameters_[i].numel();
  const size_t bytes = static_cast<size_t>(n) * dtype_size(dtype_);
  char* slot = static_cast<char*>(bucket.buffer.raw_data()) + offset_[i] * dtype_size(dtype_);
  if (!grad.defined())
    std::memset(slot, 0, bytes);
  else if (grad.raw_data() != slot)  // not written in place through new_grad()
    std::memcpy(slot, grad.raw_data(), bytes);
  param_done_[i] = true;
  std::lock_guard lock(mutex_);
  if (--bucket.pending == 0) {
    bucket.ready = true;
    changed_.notify_all();
  }
}

void Reducer::reduce_bucket(int b) {
  Tensor& buffer = buckets_[static_cast<size_t>(b)].buffer;
  const std::string what =
      fmt::format("the gradient allreduce of step {}, bucket {} of {} ({:.1f} MB)", step_ + 1,
                  b + 1, buckets_.size(), static_cast<double>(buffer.nbytes()) / 1e6);
  const TraceSpan span("allreduce", "communication", b, static_cast<int64_t>(buffer.nbytes()));
  const auto start = Clock::now();
  if (compression_ == GradCompression::bf16)
    comm_.allreduce_bf16(buffer.data<float>(), buffer.numel(), what + " in bf16");
  else
    comm_.allreduce(buffer, ReduceOp::sum, what);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::lock_guard lock(mutex_);
  allreduce_s_ += seconds;
}

void Reducer::run() {
  trace::name_thread("reducer");
  std::unique_lock lock(mutex_);
  while (true) {
    changed_.wait(lock, [&] {
      return stop_ ||
             (armed_ && overlap_ && !finishing_ && next_ < static_cast<int>(buckets_.size()) &&
              buckets_[static_cast<size_t>(next_)].ready);
    });
    if (stop_) return;
    const int b = next_;
    busy_ = true;
    lock.unlock();
    reduce_bucket(b);
    lock.lock();
    busy_ = false;
    ++next_;
    changed_.notify_all();
  }
}

void Reducer::finish() {
  TIDE_CHECK(armed_, "reducer: finish() without prepare()");
  const auto start = Clock::now();
  int first = 0;
  {
    // Take the communicator: the thread finishes the bucket it is in and takes no other.
    std::unique_lock lock(mutex_);
    finishing_ = true;
    changed_.wait(lock, [&] { return !busy_; });
    first = next_;
  }
  // Parameters backward did not reach go in as they are: a gradient from an earlier
  // micro-batch, or none (zeros). In reverse order, as backward would have.
  for (size_t i = parameters_.size(); i-- > 0;)
    if (!param_done_[i]) on_ready(static_cast<int>(i), parameters_[i].grad());
  for (int b = first; b < static_cast<int>(buckets_.size()); ++b) reduce_bucket(b);
  {
    std::lock_guard lock(mutex_);
    next_ = static_cast<int>(buckets_.size());
    finishing_ = false;
    armed_ = false;
    times_ =
        ReducerTimes{allreduce_s_, std::chrono::duration<double>(Clock::now() - start).count()};
  }
  for (size_t i = 0; i < parameters_.size(); ++i) {
    Variable& p = parameters_[i];
    const Tensor& buffer = buckets_[static_cast<size_t>(bucket_of_[i])].buffer;
    p.set_grad_buffer(Tensor());
    p.zero_grad();
    p.accumulate_grad(buffer.slice(offset_[i], offset_[i] + p.numel()).reshape(p.shape()));
  }
}

}  // namespace tide
