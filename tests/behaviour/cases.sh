#!/usr/bin/env bash
# Runs the fixed-seed cases that pin down Tide's training behaviour and prints one digest of
# what they wrote: the CPU, the SHA-256 and the L1 and L2 norms of every tensor of each
# model.safetensors, and every figure of each summary.json and fit.json except those that
# measure time or name a path.
#
#   tests/behaviour/cases.sh TIDE_BINARY WORK_DIR > digest.txt
#   tests/behaviour/compare.py tests/fixtures/behaviour.txt digest.txt
#
# The test `behaviour` does both. On the CPU the fixture was recorded on, compare.py asks
# for the same bytes and figures; on another (oneDNN and OpenBLAS pick other kernels on
# AVX2 than on AVX-512) for the figures and norms within rounding. Re-record the fixture
# only for a change meant to alter what training computes.
#
# tests/fixtures/behaviour.txt was recorded on a Xeon with AMX from commit 8154858, the
# application layer before issue 16 rebuilt it; its zoo-* cases from 8083499, the networks
# before they became model files; zoo-inception and zoo-mlp-bn-dropout again from the commit
# that computes batch norm's statistics and bias gradient in double (4204d29, 896fbe4), which
# alters them by rounding.
set -euo pipefail
tide=$(realpath "$1")
work=$(realpath -m "$2")
root=$(cd "$(dirname "$0")/../.." && pwd)
mpirun=("$root/scripts/mpirun-local" -np 2)
rm -rf "$work"
mkdir -p "$work"
log="$work/log.txt"

run() {  # run NAME COMMAND...: runs a case, its output in the log
  echo "== $1: ${*:2}" >>"$log"
  if ! "${@:2}" >>"$log" 2>&1; then
    echo "case $1 failed; its output:" >&2
    tail -30 "$log" >&2
    exit 1
  fi
}

digest() {  # digest NAME DIR: the digest lines of one case's output directory
  local name=$1 dir=$2 f
  if [[ -f $dir/model.safetensors ]]; then
    echo "$name model.sha256 = \"$(sha256sum <"$dir/model.safetensors" | cut -c1-64)\""
    norms "$name" "$dir/model.safetensors"
  fi
  for f in summary.json fit.json; do
    [[ -f $dir/$f ]] && figures "$name ${f%.json}" "$dir/$f"
  done
  return 0
}

figures() {  # figures PREFIX FILE: one line per value of a JSON file, timings and paths left out
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, re, sys
name, path = sys.argv[1], sys.argv[2]
timing = re.compile(r"(^|_)(wall|seconds|s|per_sec|samples_per_sec|windows_per_sec|target_s)$")
def walk(prefix, v):
    if isinstance(v, dict):
        for k, x in v.items():
            if not timing.search(k) and k not in ("run_dir", "out", "data", "threads", "formula"):
                walk(f"{prefix}.{k}" if prefix else k, x)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            walk(f"{prefix}[{i}]", x)
    else:
        print(f"{name} {prefix} = {json.dumps(v)}")
walk("", json.load(open(path)))
PY
}

norms() {  # norms NAME FILE: the L1 and L2 norm of each tensor of a safetensors file
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, struct, sys
import numpy as np
name, path = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
(size,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + size])
for tensor, info in sorted((k, v) for k, v in header.items() if k != "__metadata__"):
    begin, end = info["data_offsets"]
    raw = data[8 + size + begin:8 + size + end]
    if info["dtype"] == "I64":  # a count (batch norm's num_batches_tracked): exact
        print(f"{name} model.{tensor}.sum = {int(np.frombuffer(raw, dtype='<i8').sum())}")
        continue
    assert info["dtype"] == "F32", f"{path}: {tensor} is {info['dtype']}"
    x = np.frombuffer(raw, dtype="<f4").astype(np.float64)
    print(f"{name} model.{tensor}.l1 = {np.abs(x).sum()!r}")
    print(f"{name} model.{tensor}.l2 = {np.sqrt((x * x).sum())!r}")
PY
}

cpu() {  # the CPU as far as kernels choose by it: vendor, model and widest vector ISA
  local flags isa model
  flags=$(grep -m1 '^flags' /proc/cpuinfo)
  isa=sse
  [[ $flags == *" avx2"* ]] && isa=avx2
  [[ $flags == *" avx512f"* ]] && isa=avx512
  [[ $flags == *" amx_tile"* ]] && isa=avx512-amx
  model=$(grep -m1 '^model name' /proc/cpuinfo | sed 's/.*: //')
  echo "cpu = \"$model, $isa\""
}

common=(--threads 1 --seed 5 --log-every 10 --resume never)
# The training options of the cases, given in full: the shipped model files recommend others.
sgd=(--optimizer sgd --lr 0.01 --momentum 0.9 --lr-schedule constant --weight-decay 0 --clip-norm 0)
mlp=(train --model mlp --hidden 64 --train-examples 2000 --eval-train 200 --max-steps 80
     --checkpoint-every-steps 25 "${common[@]}" "${sgd[@]}")
cnn=(train --model cnn --train-examples 640 --max-steps 24 "${common[@]}" "${sgd[@]}")

run mlp-1rank "$tide" "${mlp[@]}" --batch-size 32 --run-dir "$work/mlp-1rank"
run mlp-2ranks "${mpirun[@]}" "$tide" "${mlp[@]}" --batch-size 16 --run-dir "$work/mlp-2ranks"
run mlp-2ranks-accumulate "${mpirun[@]}" "$tide" "${mlp[@]}" --batch-size 8 --accumulate 2 \
  --run-dir "$work/mlp-2ranks-accumulate"
run cnn-1rank "$tide" "${cnn[@]}" --batch-size 32 --run-dir "$work/cnn-1rank"
run cnn-1rank-accumulate "$tide" "${cnn[@]}" --batch-size 16 --accumulate 2 \
  --run-dir "$work/cnn-1rank-accumulate"
run cnn-2ranks "${mpirun[@]}" "$tide" "${cnn[@]}" --batch-size 16 --run-dir "$work/cnn-2ranks"
# Every network of `tide train --model`, 20 steps from its initial weights (recorded from
# 8083499, when they were built in C++, before they became the model files of models/).
zoo=(inception lstm gru transformer mlp-wide mlp-bn-dropout)
for m in "${zoo[@]}"; do
  case $m in
    mlp-wide) flags=(--model mlp) ;;
    mlp-bn-dropout) flags=(--model mlp --hidden 48 --batch-norm --dropout 0.2) ;;
    *) flags=(--model "$m") ;;
  esac
  run "zoo-$m" "$tide" train "${flags[@]}" --train-examples 320 --batch-size 16 --max-steps 20 \
    "${common[@]}" "${sgd[@]}" --run-dir "$work/zoo-$m"
done
run experiment "$tide" experiment batch-size --batch-sizes 16,64 --epochs 1 --train-examples 512 \
  --eval-train 100 --hidden 32 --threads 1 --seed 5 --out "$work/experiment"

# tide fit: a quadratic with a little deterministic noise, by gradient descent and by SGD.
awk 'BEGIN { print "t,height"; for (i = 0; i < 40; i++) { t = i * 0.1;
       printf "%g,%.6f\n", t, 20 + 15 * t - 4.9 * t * t + ((i % 3) - 1) * 0.05 } }' \
  >"$work/fall.csv"
run fit-gd "$tide" fit --model quadratic "$work/fall.csv" --out "$work/fit-gd"
run fit-sgd "$tide" fit --model polynomial --degree 3 --method sgd --epochs 30 --seed 2 "$work/fall.csv" \
  --out "$work/fit-sgd"

# tide timeseries train against a private PostgreSQL server, stopped on exit.
# Under /tmp, which the postgres user reaches wherever the build is.
pg=$(mktemp -d /tmp/tide-pg-XXXXXX)
trap '"$root/scripts/pg-local" stop "$pg" >/dev/null 2>&1 || true; rm -rf "$pg"' EXIT
url=$("$root/scripts/pg-local" start "$pg")
run series-generate "$tide" timeseries generate --out "$work/series.csv" --series 120 --length 32 \
  --classes 3 --seed 1
run series-ingest "$tide" timeseries ingest --db "$url" --csv "$work/series.csv"
run series-train "$tide" timeseries train --db "$url" --window 8 --stride 4 --latent 8 --hidden 16 \
  --lr 0.01 --clip-norm 1 --epochs 2 --batch-size 32 "${common[@]}" --run-dir "$work/series"

cpu
for d in mlp-1rank mlp-2ranks mlp-2ranks-accumulate cnn-1rank cnn-1rank-accumulate cnn-2ranks \
  "${zoo[@]/#/zoo-}" experiment experiment/batch-16 experiment/batch-64 fit-gd fit-sgd series; do
  digest "$d" "$work/$d"
done
