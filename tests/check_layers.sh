#!/usr/bin/env bash
# Holds the #includes to the layering of docs/ARCHITECTURE.md: a file in layer L includes
# only headers of L and of the layers L links to. Prints each offending include.
set -euo pipefail
src="$(dirname "$0")/../src/tide"

declare -A allowed=(
  [core]="core"
  [tensor]="core tensor"
  [kernels]="core tensor kernels"
  [autograd]="core tensor kernels autograd"
  [nn]="core tensor kernels autograd nn"
  [optim]="core tensor kernels autograd nn optim"
  [data]="core tensor data"
  [dist]="core tensor kernels autograd nn optim data dist"
  [train]="core tensor kernels autograd nn optim data dist train"
  [cli]="core tensor kernels autograd nn optim data dist train cli"
)

bad=0
for layer in "${!allowed[@]}"; do
  [[ -d "$src/$layer" ]] || continue
  while IFS=: read -r file _ include; do
    target=$(sed -E 's|.*"tide/([a-z_]+)/.*|\1|' <<<"$include")
    if [[ " ${allowed[$layer]} " != *" $target "* ]]; then
      echo "layering: $file includes $target, which $layer may not use" >&2
      bad=1
    fi
  done < <(grep -rn '#include "tide/' "$src/$layer" || true)
done
# Only dist may include mpi.h.
if grep -rln '#include <mpi.h>' "$src" | grep -v '/dist/' >&2; then
  echo "layering: only src/tide/dist may include mpi.h" >&2
  bad=1
fi
if ((bad)); then exit 1; fi
echo "layering: every include follows docs/ARCHITECTURE.md"
