#!/usr/bin/env bash
# Holds the #includes to the layering of docs/ARCHITECTURE.md: a file in folder F includes
# only headers of F and of the folders F links to. Prints each offending include.
set -euo pipefail
src="$(dirname "$0")/../src/tide"

below_session="core tensor kernels autograd nn optim data distributed report models session"
declare -A allowed=(
  [core]="core"
  [tensor]="core tensor"
  [kernels]="core tensor kernels"
  [autograd]="core tensor kernels autograd"
  [nn]="core tensor kernels autograd nn"
  [optim]="core tensor kernels autograd nn optim"
  [data]="core tensor data"
  [distributed]="core tensor kernels autograd nn optim data distributed"
  [report]="core report"
  [models]="core tensor kernels autograd nn models"
  [onnx]="core tensor kernels autograd nn models onnx"
  [session]="$below_session"
  # The applications: each on the session, none on another unless named here.
  [classify]="$below_session onnx classify"
  [cluster]="core tensor kernels autograd nn optim data distributed cluster"
  [timeseries]="$below_session cluster timeseries"
  [fit]="core tensor kernels autograd nn optim fit"
  [experiments]="$below_session onnx classify experiments"
  [convolve]="core tensor kernels autograd data convolve"
  [cli]="$below_session onnx classify cluster timeseries fit experiments convolve cli"
)

bad=0
for dir in "$src"/*/; do
  layer=$(basename "$dir")
  if [[ -z ${allowed[$layer]+set} ]]; then
    echo "layering: src/tide/$layer is no layer of tests/check_layers.sh" >&2
    bad=1
    continue
  fi
  while IFS=: read -r file _ include; do
    target=$(sed -E 's|.*"tide/([a-z_]+)/.*|\1|' <<<"$include")
    if [[ " ${allowed[$layer]} " != *" $target "* ]]; then
      echo "layering: $file includes $target, which $layer may not use" >&2
      bad=1
    fi
  done < <(grep -rn '#include "tide/' "$dir" || true)
done
# Only distributed may include mpi.h.
if grep -rln '#include <mpi.h>' "$src" | grep -v '/distributed/' >&2; then
  echo "layering: only src/tide/distributed may include mpi.h" >&2
  bad=1
fi
if ((bad)); then exit 1; fi
echo "layering: every include follows docs/ARCHITECTURE.md"
