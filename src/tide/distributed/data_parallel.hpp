// DataParallel: a model's gradients registered once for synchronous data-parallel training,
// in the spirit of Flashlight's distributeModuleGrads and finalize. A step is `micro_batches`
// calls of backward() and one of finish(); afterwards every gradient holds the mean over
// the ranks and the micro-batches, on every rank.
//
// Backward is seeded with 1 / (ranks * micro_batches), so the sum the Reducer forms is the
// mean at no extra cost. On 2+ ranks the Reducer is armed before the step's last backward
// (earlier ones only accumulate locally) and reduces buckets as they fill; on one rank
// there is no Reducer and finish() has nothing to do.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "tide/autograd/variable.hpp"
#include "tide/distributed/communicator.hpp"
#include "tide/distributed/reducer_options.hpp"

namespace tide {

class Reducer;  // reducer.hpp: its thread stays out of DataParallel's users

class DataParallel {
 public:
  DataParallel(std::vector<Variable> parameters, const Communicator& comm, int64_t micro_batches,
               ReducerOptions options = {});
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  // Backward of `loss` (a scalar), the next micro-batch of step `step`.
  void backward(const Variable& loss, int64_t step);
  // Ends the step's reduction; call it once after the step's last backward().
  void finish();

  // The Reducer of a run on 2+ ranks, for its layout and timings; null on one rank.
  const Reducer* reducer() const { return reducer_.get(); }
  bool overlaps() const { return reducer_ && overlap_; }

 private:
  std::unique_ptr<Reducer> reducer_;
  int64_t micro_batches_, done_ = 0;
  double seed_;
  bool overlap_;
};

}  // namespace tide
