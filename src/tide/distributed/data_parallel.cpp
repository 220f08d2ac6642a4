#include "tide/distributed/data_parallel.hpp"

#include "tide/core/error.hpp"
#include "tide/distributed/reducer.hpp"

namespace tide {

DataParallel::DataParallel(std::vector<Variable> parameters, const Communicator& comm,
                           int64_t micro_batches, ReducerOptions options)
    : micro_batches_(micro_batches),
      seed_(1.0 / static_cast<double>(comm.size() * micro_batches)),
      overlap_(options.overlap) {
  TIDE_CHECK(micro_batches >= 1, "data parallel: {} micro-batches a step; at least 1 is needed",
             micro_batches);
  if (comm.size() > 1) reducer_ = std::make_unique<Reducer>(std::move(parameters), comm, options);
}

DataParallel::~DataParallel() = default;

void DataParallel::backward(const Variable& loss, int64_t step) {
  TIDE_CHECK(done_ < micro_batches_,
             "data parallel: backward {} of a step of {} micro-batches; call finish() after the "
             "last",
             done_ + 1, micro_batches_);
  if (reducer_ && done_ == micro_batches_ - 1) reducer_->prepare(step);
  loss.backward(Tensor::full(loss.shape(), seed_, loss.dtype()));
  ++done_;
}

void DataParallel::finish() {
  TIDE_CHECK(done_ == micro_batches_,
             "data parallel: finish() after {} of the step's {} micro-batches", done_,
             micro_batches_);
  if (reducer_) reducer_->finish();
  done_ = 0;
}

}  // namespace tide
