#include "tide/kernels/parallel.hpp"

#include <omp.h>

namespace tide {

void set_num_threads(int n) {
  omp_set_num_threads(n > 0 ? n : omp_get_num_procs());
}

int num_threads() {
  return omp_get_max_threads();
}

int num_procs() {
  return omp_get_num_procs();
}

}  // namespace tide
