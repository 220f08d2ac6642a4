#include "tide/kernels/parallel.hpp"

#include <algorithm>

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

int on_every_thread(const std::function<void()>& fn) {
  const int team = std::max(omp_get_max_threads(), omp_get_num_procs());
  const int dynamic = omp_get_dynamic();
  omp_set_dynamic(0);
  int ran = 0;
#pragma omp parallel num_threads(team) reduction(+ : ran)
  {
    fn();
    ran = 1;
  }
  omp_set_dynamic(dynamic);
  return ran;
}

}  // namespace tide
