// Communicator: a group of ranks and the collectives Tide needs on it, over MPI.
//
// A program started by mpirun or srun joins MPI_COMM_WORLD; started on its own it is a world
// of one, MPI is never initialised, and every collective returns at once. This module is the
// only one that includes mpi.h: the rest of Tide sees ranks, sizes and tensors.
//
// MPI is initialised with MPI_THREAD_SERIALIZED: any thread may call a collective, but never
// two at once. During a training step the Reducer's thread owns MPI; the training thread
// uses the communicator only between steps.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tide/tensor/tensor.hpp"

namespace tide {

enum class ReduceOp { sum, max, min };

class StallWatch;  // stall_watchdog.hpp

class Communicator {
 public:
  // The world: every rank of the job, or this process alone when no launcher started it.
  static Communicator& world();
  // This process alone: a group of one, whose collectives return at once.
  static Communicator solo() { return Communicator(); }
  // Whether a launcher (mpirun, srun) started this process, so that MPI is used.
  static bool launched_by_mpi();
  // Ends MPI after the last collective (the program's exit does it too). Idempotent.
  static void finalize();
  // Tears down every rank of the job after an error on this one, so that no rank waits
  // forever in a collective the failed one will never join. Returns only in a world of one.
  static void abort_job(int status);

  int rank() const { return rank_; }
  int size() const { return size_; }
  // Ranks of this communicator on this rank's node (for threads per rank).
  int local_size() const { return local_size_; }

  // In place on every rank: the elementwise sum (or max, min) over the ranks. f32, f64, i64.
  void allreduce(Tensor& t, ReduceOp op = ReduceOp::sum,
                 const std::string& what = "allreduce") const;
  void allreduce(float* data, int64_t n, ReduceOp op, const std::string& what) const;
  void allreduce(double* data, int64_t n, ReduceOp op, const std::string& what) const;
  // The sum over the ranks with half the bytes on the wire (gradient compression): each rank
  // rounds its values to bf16; rank r sums slice r of every rank's values in f32 (an
  // all-to-all), rounds that sum to bf16 and every rank gathers all slices (an allgather).
  // Every rank ends with the same values: the f32 sum of the bf16 roundings, rounded to bf16
  // (a world of one too: its values rounded to bf16).
  void allreduce_bf16(float* data, int64_t n, const std::string& what) const;
  // Root's tensor (shape and dtype already equal on every rank) copied to every rank.
  void broadcast(Tensor& t, int root = 0, const std::string& what = "broadcast") const;
  // Every rank's tensor (same shape on each), stacked along a new first dimension.
  Tensor allgather(const Tensor& t, const std::string& what = "allgather") const;
  // Every rank's string, indexed by rank; the strings may differ in length.
  std::vector<std::string> allgather(const std::string& s,
                                     const std::string& what = "allgather") const;
  // Every rank's string on `root`, indexed by rank; an empty list on the others.
  std::vector<std::string> gather(const std::string& s, int root,
                                  const std::string& what = "gather") const;
  void barrier(const std::string& what = "barrier") const;
  // A barrier that sleeps while it waits (MPI's spins): for ranks that sit out while others
  // are timed on the same cores.
  void quiet_barrier(const std::string& what = "barrier") const;
  // Splits into groups: ranks with the same color form one communicator, ordered by rank.
  Communicator split(int color) const;

  // Waits in collectives are recorded here (shared by the groups split from one
  // communicator: a rank waits in one collective at a time); see StallWatchdog.
  const std::shared_ptr<StallWatch>& stall_watch() const { return watch_; }
  // The collectives this rank has entered on this communicator and its copies (the
  // Reducer's included): what a test counts per step.
  int64_t collectives() const;

  Communicator(const Communicator&) = default;
  Communicator& operator=(const Communicator&) = default;
  ~Communicator();

 private:
  struct Handle;  // the MPI_Comm, freed with the last copy
  Communicator();
  template <class T>
  void allreduce_raw(T* data, int64_t n, ReduceOp op, const std::string& what) const;
  // Every rank's string length and where it goes in the concatenation (a collective).
  struct StringLayout {
    std::vector<int> lengths, offsets;
  };
  StringLayout string_layout(const std::string& s, const std::string& what) const;

  std::shared_ptr<Handle> handle_;  // null in a world of one
  int rank_ = 0, size_ = 1, local_size_ = 1;
  std::shared_ptr<StallWatch> watch_;
};

}  // namespace tide
