#!/usr/bin/env bash
# A user's view of an installed Tide: `cmake --install` into a fresh prefix, then
#  - examples/ built as a project of its own with find_package(Tide) and run;
#  - a program that includes only tide/tide.hpp, built with `pkg-config --cflags --libs tide`
#    and run; the umbrella header takes in no MPI, threads or mutexes;
#  - the installed `tide` program trains two steps;
#  - `module load tide` (the modulefile under share/modulefiles), with the prefix moved
#    elsewhere, puts it on PATH.
# Usage: install_and_build.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1 build=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/tide-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
fashion=/usr/share/datasets/fashion-mnist

echo "== cmake --install into $prefix"
cmake --install "$build" --prefix "$prefix" > "$work/install.log"
for f in bin/tide include/tide/tide.hpp include/tide/session/training_run.hpp \
         lib/cmake/Tide/TideConfig.cmake lib/cmake/Tide/TideTargets.cmake \
         lib/pkgconfig/tide.pc lib/libtide_core.a lib/libtide_session.a; do
  [[ -e $prefix/$f ]] || { echo "not installed: $f"; exit 1; }
done
if find "$prefix/include" -name '*.cpp' -o -name 'proto.hpp' | grep -q .; then
  echo "sources or internal headers were installed:"; find "$prefix/include" -name '*.cpp'
  exit 1
fi

echo "== examples/ against the installed package"
cmake -S "$src/examples" -B "$work/examples" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" > "$work/configure.log"
cmake --build "$work/examples" > "$work/build.log" || { cat "$work/build.log"; exit 1; }
out=$("$work/examples/examples/train_mlp" "$fashion" 200)
echo "$out" | tail -2
grep -q "test accuracy" <<< "$out" || { echo "train_mlp printed no test accuracy"; exit 1; }

echo "== pkg-config and the umbrella header"
cat > "$work/app.cpp" <<'CPP'
#include "tide/tide.hpp"

#include <cmath>
#include <cstdio>

// Fits y = 3x - 1 with one Linear layer and SGD: the public API and nothing else.
int main() {
  tide::RngStream rng(1, tide::RngPurpose::init);
  tide::Linear fit(1, 1, rng);
  tide::Sgd opt(fit.parameters(), tide::SgdOptions{.lr = 0.1});
  const tide::Tensor x = tide::Tensor::from<float>({4, 1}, {0, 1, 2, 3});
  const tide::Tensor y = tide::Tensor::from<float>({4, 1}, {-1, 2, 5, 8});
  for (int step = 0; step < 500; ++step) {
    opt.zero_grad();
    tide::mse_loss(fit.forward(tide::Variable(x)), tide::Variable(y)).backward();
    opt.step();
  }
  const auto w = fit.parameters()[0].value().to_vector();
  const auto b = fit.parameters()[1].value().to_vector();
  std::printf("w %.3f b %.3f\n", w[0], b[0]);
  return std::abs(w[0] - 3) < 1e-2 && std::abs(b[0] + 1) < 1e-2 ? 0 : 1;
}
CPP
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
# shellcheck disable=SC2046
c++ -std=c++20 -O1 "$work/app.cpp" -o "$work/app" $(pkg-config --cflags --libs tide)
"$work/app"
# No MPI, threads or mutexes in a user's translation unit: they stay behind Communicator,
# the loader and the watchdog (libstdc++'s include guards say what was included).
cat > "$work/internals.cpp" <<'CPP'
#include "tide/tide.hpp"
#ifdef MPI_VERSION
#error "tide/tide.hpp includes mpi.h"
#endif
#if defined(_GLIBCXX_THREAD) || defined(_GLIBCXX_MUTEX) || defined(_GLIBCXX_CONDITION_VARIABLE)
#error "tide/tide.hpp includes <thread>, <mutex> or <condition_variable>"
#endif
CPP
# shellcheck disable=SC2046
c++ -std=c++20 -fsyntax-only "$work/internals.cpp" $(pkg-config --cflags tide)

echo "== the installed program"
"$prefix/bin/tide" train --model mlp --max-steps 2 --threads 1 --run-dir "$work/run" \
  > "$work/train.log" 2>&1 || { cat "$work/train.log"; exit 1; }
[[ -f $work/run/model.safetensors ]] || { echo "the installed tide wrote no model"; exit 1; }
echo "== module load tide, the prefix moved"
mv "$prefix" "$prefix-moved"
prefix=$prefix-moved
(
  unset PKG_CONFIG_PATH
  # shellcheck disable=SC1091
  source /usr/share/modules/init/bash
  module use "$prefix/share/modulefiles"
  module load tide
  [[ $(command -v tide) == "$prefix/bin/tide" ]] || { echo "module load tide: tide is $(command -v tide)"; exit 1; }
  pkg-config --exists tide || { echo "module load tide: pkg-config finds no tide"; exit 1; }
  [[ -x $TIDE_ROOT/scripts/pg-local && -f $TIDE_ROOT/examples/slurm/timeseries.sbatch ]] ||
    { echo "module load tide: no scripts/pg-local or examples/slurm under TIDE_ROOT=$TIDE_ROOT"; exit 1; }
)
echo "install test passed"
