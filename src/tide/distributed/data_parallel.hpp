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
#include <optional>
#include <vector>

#include "tide/autograd/variable.hpp"
#include "tide/distributed/communicator.hpp"
#include "tide/distributed/reducer.hpp"

namespace tide {

class DataParallel {
 public:
  DataParallel(std::vector<Variable> parameters, const Communicator& comm, int64_t micro_batches,
               ReducerOptions options = {});

  // Backward of `loss` (a scalar), the next micro-batch of step `step`.
  void backward(const Variable& loss, int64_t step);
  // Ends the step's reduction; call it once after the step's last backward().
  void finish();

  // The Reducer of a run on 2+ ranks, for its layout and timings; null on one rank.
  const Reducer* reducer() const { return reducer_ ? &*reducer_ : nullptr; }
  bool overlaps() const { return reducer_.has_value() && overlap_; }

 private:
  std::optional<Reducer> reducer_;
  int64_t micro_batches_, done_ = 0;
  double seed_;
  bool overlap_;
};

}  // namespace tide
