#include "tide/dist/reducer.hpp"

#include <chrono>

#include <fmt/format.h>

namespace tide {
namespace {

using Clock = std::chrono::steady_clock;

template <class T>
void scaled_copy(T* dst, const T* src, int64_t n, T scale) {
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i] * scale;
}

}  // namespace

Reducer::Reducer(std::vector<Variable> parameters, Communicator comm, ReducerOptions options)
    : parameters_(std::move(parameters)), comm_(std::move(comm)) {
  TIDE_CHECK(options.bucket_bytes > 0 && options.first_bucket_bytes > 0,
             "reducer: bucket sizes must be positive, got {} and {} bytes", options.bucket_bytes,
             options.first_bucket_bytes);
  const int n = static_cast<int>(parameters_.size());
  if (n > 0) dtype_ = parameters_[0].dtype();
  TIDE_CHECK(dtype_ == DType::f32 || dtype_ == DType::f64,
             "reducer: parameters must be f32 or f64, got {}", dtype_name(dtype_));
  bucket_of_.assign(static_cast<size_t>(n), 0);
  offset_.assign(static_cast<size_t>(n), 0);
  param_done_.assign(static_cast<size_t>(n), false);
  const int64_t element_bytes = static_cast<int64_t>(dtype_size(dtype_));
  for (int i = n - 1; i >= 0; --i) {  // reverse order: backward completes the last ones first
    const Variable& p = parameters_[static_cast<size_t>(i)];
    TIDE_CHECK(p.dtype() == dtype_, "reducer: parameter {} is {}, the others {}", i,
               dtype_name(p.dtype()), dtype_name(dtype_));
    TIDE_CHECK(p.requires_grad() && p.is_leaf(),
               "reducer: parameter {} ({}) is not a leaf that requires a gradient", i,
               p.value().str());
    // A new bucket when the current one would outgrow its cap (a larger parameter fills
    // one alone).
    const int64_t cap = layout_.size() == 1 ? options.first_bucket_bytes : options.bucket_bytes;
    if (layout_.empty() || (!layout_.back().parameters.empty() &&
                            (layout_.back().elements + p.numel()) * element_bytes > cap))
      layout_.emplace_back();
    BucketLayout& b = layout_.back();
    bucket_of_[static_cast<size_t>(i)] = static_cast<int>(layout_.size()) - 1;
    offset_[static_cast<size_t>(i)] = b.elements;
    b.parameters.push_back(i);
    b.elements += p.numel();
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
  for (Variable& p : parameters_) p.set_grad_ready_hook(nullptr);
}

void Reducer::prepare(int64_t step, double scale) {
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
  std::fill(param_done_.begin(), param_done_.end(), false);
  next_ = 0;
  step_ = step;
  scale_ = scale;
  allreduce_s_ = 0;
  armed_ = true;
}

void Reducer::on_ready(int index, const Tensor& grad) {
  if (!armed_ || param_done_[static_cast<size_t>(index)]) return;
  Bucket& bucket = buckets_[static_cast<size_t>(bucket_of_[static_cast<size_t>(index)])];
  const int64_t n = parameters_[static_cast<size_t>(index)].numel();
  const int64_t offset = offset_[static_cast<size_t>(index)];
  if (dtype_ == DType::f32) {
    float* dst = bucket.buffer.data<float>() + offset;
    if (grad.defined())
      scaled_copy(dst, grad.data<float>(), n, static_cast<float>(scale_));
    else
      std::fill(dst, dst + n, 0.0f);
  } else {
    double* dst = bucket.buffer.data<double>() + offset;
    if (grad.defined())
      scaled_copy(dst, grad.data<double>(), n, scale_);
    else
      std::fill(dst, dst + n, 0.0);
  }
  mark_ready(index);
}

void Reducer::mark_ready(int index) {
  param_done_[static_cast<size_t>(index)] = true;
  std::lock_guard lock(mutex_);
  Bucket& bucket = buckets_[static_cast<size_t>(bucket_of_[static_cast<size_t>(index)])];
  if (--bucket.pending == 0) {
    bucket.ready = true;
    changed_.notify_all();
  }
}

void Reducer::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    changed_.wait(lock, [&] {
      return stop_ || (armed_ && next_ < static_cast<int>(buckets_.size()) &&
                       buckets_[static_cast<size_t>(next_)].ready);
    });
    if (stop_) return;
    const int b = next_;
    Tensor buffer = buckets_[static_cast<size_t>(b)].buffer;
    const std::string what =
        fmt::format("the gradient allreduce of step {}, bucket {} of {} ({:.1f} MB)", step_ + 1,
                    b + 1, buckets_.size(), static_cast<double>(buffer.nbytes()) / 1e6);
    lock.unlock();
    const auto start = Clock::now();
    comm_.allreduce(buffer, ReduceOp::sum, what);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    buffer = Tensor();  // only the bucket holds the buffer again
    lock.lock();
    allreduce_s_ += seconds;
    ++next_;
    changed_.notify_all();
  }
}

void Reducer::finish() {
  TIDE_CHECK(armed_, "reducer: finish() without prepare()");
  for (size_t i = 0; i < parameters_.size(); ++i)
    if (!param_done_[i]) on_ready(static_cast<int>(i), Tensor());  // backward never reached it
  const auto start = Clock::now();
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return next_ == static_cast<int>(buckets_.size()); });
  times_ = ReducerTimes{allreduce_s_, std::chrono::duration<double>(Clock::now() - start).count()};
  armed_ = false;
  lock.unlock();
  for (size_t i = 0; i < parameters_.size(); ++i) {
    Variable& p = parameters_[i];
    const Tensor& buffer = buckets_[static_cast<size_t>(bucket_of_[i])].buffer;
    const int64_t offset = offset_[i];
    p.zero_grad();
    p.accumulate_grad(buffer.slice(offset, offset + p.numel()).reshape(p.shape()));
  }
}

}  // namespace tide
