// Reducer: averages gradients over the ranks of a communicator while backward still runs,
// the way Horovod and PyTorch's DistributedDataParallel do.
//
// Parameters are grouped into buckets in reverse order (the order in which backward
// completes their gradients): a small first bucket, so communication starts early, then
// buckets of about `bucket_bytes`. The layout depends only on the parameters' shapes, so
// it is the same on every rank. As backward completes a gradient, a hook copies it (times
// the scale) into its bucket; when a bucket is full the Reducer's thread sums it over the
// ranks with one allreduce, while backward goes on. Buckets are reduced strictly in order,
// so every rank issues the same collectives in the same order. The Reducer's thread is the
// only one to use the communicator between prepare() and finish().
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tide/autograd/variable.hpp"
#include "tide/dist/communicator.hpp"

namespace tide {

struct ReducerOptions {
  int64_t bucket_bytes = 25 << 20;      // about 25 MB, as PyTorch's DDP
  int64_t first_bucket_bytes = 1 << 20;  // the first bucket is small, so it starts early
};

// One bucket: the parameters in it (indices into the parameter list, in the order they sit
// in the bucket) and its size.
struct BucketLayout {
  std::vector<int> parameters;
  int64_t elements = 0;
};

// Timings of the last reduction.
struct ReducerTimes {
  double allreduce_s = 0;  // the Reducer's thread inside allreduce
  double exposed_s = 0;    // finish() waiting for it after backward ended
  // The share of allreduce time that overlapped backward: 1 - exposed / allreduce.
  double hidden_fraction() const {
    return allreduce_s > 0 ? std::max(0.0, 1.0 - exposed_s / allreduce_s) : 0.0;
  }
};

class Reducer {
 public:
  // All parameters of one floating dtype (f32 or f64). Installs gradient-ready hooks on them.
  Reducer(std::vector<Variable> parameters, Communicator comm, ReducerOptions options = {});
  ~Reducer();
  Reducer(const Reducer&) = delete;
  Reducer& operator=(const Reducer&) = delete;

  // Arms the hooks for the next backward: after it, each gradient will be `scale` times its
  // sum over the ranks (1 / ranks for the average; 1 / (ranks * K) over K accumulated
  // micro-batches). `step` names the step in stall reports.
  void prepare(int64_t step, double scale);
  // After backward: a parameter backward did not reach counts as a zero gradient. Waits for
  // every bucket; each gradient is then a view of its reduced bucket.
  void finish();

  const std::vector<BucketLayout>& layout() const { return layout_; }
  const ReducerTimes& last_times() const { return times_; }

 private:
  struct Bucket {
    Tensor buffer;  // 1-D, elements of the bucket's parameters back to back
    int pending = 0;
    bool ready = false;
  };
  void on_ready(int index, const Tensor& grad);
  void mark_ready(int index);
  void run();  // the thread that owns the communicator between prepare() and finish()

  std::vector<Variable> parameters_;
  Communicator comm_;
  std::vector<BucketLayout> layout_;
  std::vector<int> bucket_of_;    // by parameter
  std::vector<int64_t> offset_;   // by parameter: its first element in the bucket
  std::vector<bool> param_done_;  // by parameter, this reduction
  DType dtype_ = DType::f32;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Bucket> buckets_;
  bool armed_ = false, stop_ = false;
  int next_ = 0;  // the next bucket the thread reduces
  int64_t step_ = 0;
  double scale_ = 1;
  double allreduce_s_ = 0;
  ReducerTimes times_;
  std::thread thread_;
};

}  // namespace tide
