// Reducer: sums gradients over the ranks of a communicator while backward still runs, the
// way Horovod and PyTorch's DistributedDataParallel do.
//
// Parameters are grouped into buckets in reverse order (the order in which backward
// completes their gradients): a small first bucket, so communication starts early, then
// buckets of about `bucket_bytes`. The layout depends only on the parameters' shapes, so
// it is the same on every rank. While armed, each parameter's gradient buffer is its slice
// of a bucket, so ops that write gradients through Variable::new_grad() (linear,
// convolution, embedding) put them straight there; other gradients are copied in when
// complete. When a bucket is full, the Reducer's thread sums it over the ranks with one
// allreduce while backward goes on; finish() reduces what is left on the calling thread.
// Buckets are reduced strictly in order, so every rank issues the same collectives in the
// same order, and only one thread at a time uses the communicator.
//
// The Reducer sums; to average, seed backward with 1 / ranks (1 / (ranks * K) over K
// accumulated micro-batches), which scales every gradient at no cost.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tide/autograd/variable.hpp"
#include "tide/distributed/communicator.hpp"
#include "tide/distributed/reducer_options.hpp"

namespace tide {

// One bucket: the parameters in it (indices into the parameter list, in the order they sit
// in the bucket) and its size.
struct BucketLayout {
  std::vector<int> parameters;
  int64_t elements = 0;
};

// The buckets of parameters of `elements` each (in the model's order), `element_bytes`
// wide: in reverse order, a new bucket when the current one would outgrow its cap (the
// first's is options.first_bucket_bytes with overlap, else bucket_bytes; a larger parameter
// fills one alone). The Reducer's layout, and the scaling model's.
std::vector<BucketLayout> bucket_layout(const std::vector<int64_t>& elements, int64_t element_bytes,
                                        const ReducerOptions& options);

// Timings of the last reduction.
struct ReducerTimes {
  double allreduce_s = 0;  // inside allreduce, on either thread
  double exposed_s = 0;    // in finish(), after backward ended
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

  // Arms the reducer for the next backward (`step` names it in stall reports). Call it after
  // zero_grad() and, with accumulation, before the last micro-batch's backward only.
  void prepare(int64_t step);
  // After backward: a parameter backward did not reach goes in with the gradient it has
  // (from earlier micro-batches; zeros if none). Reduces the buckets not yet reduced; each
  // gradient is then a view of its bucket holding the sum over the ranks. Called right
  // after prepare(), it sums the gradients as they are.
  void finish();

  const std::vector<BucketLayout>& layout() const { return layout_; }
  GradCompression compression() const { return compression_; }
  const ReducerTimes& last_times() const { return times_; }

 private:
  struct Bucket {
    Tensor buffer;  // 1-D, elements of the bucket's parameters back to back
    int pending = 0;
    bool ready = false;
  };
  void on_ready(int index, const Tensor& grad);
  void reduce_bucket(int b);  // on whichever thread owns the communicator now
  void run();                 // the Reducer's thread

  std::vector<Variable> parameters_;
  Communicator comm_;
  std::vector<BucketLayout> layout_;
  std::vector<int> bucket_of_;    // by parameter
  std::vector<int64_t> offset_;   // by parameter: its first element in the bucket
  std::vector<bool> param_done_;  // by parameter, this reduction
  DType dtype_ = DType::f32;
  bool overlap_ = true;
  GradCompression compression_ = GradCompression::none;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Bucket> buckets_;
  bool armed_ = false, stop_ = false;
  bool finishing_ = false;  // finish() owns the communicator: the thread takes no bucket
  bool busy_ = false;       // the thread is inside an allreduce
  int next_ = 0;            // the next bucket to reduce
  int64_t step_ = 0;
  double allreduce_s_ = 0;
  ReducerTimes times_;
  std::thread thread_;
};

}  // namespace tide
