#!/usr/bin/env bash
# Tide under a real Slurm: scripts/slurm-local starts slurmctld, two slurmd and munged on
# loopback in a fresh directory, stopped at the end however the test ends. Then:
#   1. `srun -n 2 -c 1 tide train` trains data-parallel with MPI started through PMIx, one
#      thread per rank from SLURM_CPUS_PER_TASK, and ends bit for bit where the same run
#      under mpirun ends; `srun -n 1 -c 1` runs 1 thread on this 2-core machine.
#   2. examples/slurm/train.sbatch, sent SIGTERM by `scancel --signal=TERM` after its first
#      checkpoint, stops with a checkpoint, requeues itself and ends bit for bit where the
#      run never stopped ends.
#   3. examples/slurm/timeseries.sbatch, a heterogeneous job: component 0 serves PostgreSQL,
#      component 1 ingests, trains on 2 ranks and clusters; the server is gone afterwards.
# Usage: tests/slurm/under_slurm.sh SOURCE_DIR BUILD_DIR
set -euo pipefail

root=$1
build=$2
tide=$build/tide
work=$build/slurm-test
cluster=$work/cluster
# A run that ctest timed out left its cluster: stop it before its pid files go.
"$root/scripts/slurm-local" stop "$cluster" 2>/dev/null || true
rm -rf "$work"
mkdir -p "$work"
cd "$work"

# The private cluster only: a test run inside a real Slurm job must not reach that job, nor
# take the options of its sbatch and srun.
while read -r name; do unset "$name"; done < <(compgen -e | grep -E "^(SLURM|SBATCH|SRUN|SALLOC)_" || true)
trap '"$root/scripts/slurm-local" stop "$cluster" || true' EXIT
env_line=$("$root/scripts/slurm-local" start "$cluster")
eval "$env_line"
[[ ${SLURM_CONF:-} == "$cluster/slurm.conf" ]] || {
  echo "FAILED: scripts/slurm-local start printed '$env_line'" >&2
  exit 1
}

fail() {
  echo "FAILED: $*" >&2
  exit 1
}

expect_line() {  # FILE REGEX WHAT
  grep -q -E "$2" "$1" || {
    echo "--- $1" >&2
    tail -30 "$1" >&2
    fail "$3"
  }
}

same_bytes() {  # A B WHAT
  cmp -s "$1" "$2" || fail "$3: $1 and $2 differ"
}

job_state() {
  scontrol show job "$1" | grep -o -E "JobState=[A-Z_]+" | sort -u | tr '\n' ' '
}

# Waits up to SECONDS for COMMAND to succeed; fails naming WHAT otherwise.
wait_for() {  # SECONDS WHAT COMMAND...
  local limit=$1 what=$2 i
  shift 2
  for ((i = 0; i < limit * 10; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  fail "$what in $limit s"
}

# A job's state once it has left the queue, at most SECONDS later.
final_state() {  # JOB SECONDS
  local state i
  for ((i = 0; i < $2 * 10; i++)); do
    state=$(job_state "$1")
    if ! grep -q -E "PENDING|RUNNING|CONFIGURING|COMPLETING|REQUEUE|RESIZING|SUSPENDED" \
      <<<"$state"; then
      echo "$state"
      return 0
    fi
    sleep 0.1
  done
  echo "still $state after $2 s"
}

mlp=(--model mlp --epochs 1 --max-steps 300 --checkpoint-every-steps 20 --summary-every-steps 1000
  --seed 7)

# 1. srun: 2 ranks, their threads from -c, the same result as mpirun's.
srun -N 1 -n 2 -c 1 "$tide" train "${mlp[@]}" --run-dir "$work/srun" >"$work/srun.log" 2>&1 ||
  fail "srun -n 2 tide train exited with $? ($(tail -3 "$work/srun.log"))"
expect_line "$work/srun.log" "rank 0/2 .* 64 per rank x 2 ranks .* 1 thread per rank" \
  "srun -n 2 -c 1 did not train on 2 ranks of 1 thread"
"$root/scripts/mpirun-local" -np 2 "$tide" train "${mlp[@]}" --threads 1 \
  --run-dir "$work/mpirun" >"$work/mpirun.log" 2>&1 || fail "the mpirun reference failed"
same_bytes "$work/srun/checkpoints/step-00000300.safetensors" \
  "$work/mpirun/checkpoints/step-00000300.safetensors" "srun's training and mpirun's"
srun -n 1 -c 1 "$tide" train --model mlp --max-steps 1 --run-dir "$work/one" >"$work/one.log" 2>&1 || fail "srun -n 1 -c 1 tide train failed"
expect_line "$work/one.log" "1 rank.* 1 thread per rank" \
  "srun -n 1 -c 1 did not take its one CPU from SLURM_CPUS_PER_TASK"
echo "srun: 2 ranks of 1 thread, identical to mpirun; -c 1 gives 1 thread"

# 2. sbatch: SIGTERM after the first checkpoint, a requeue, a bit-exact end.
job=$(TIDE=$tide TIDE_RUN_DIR=$work/batch sbatch --parsable "$root/examples/slurm/train.sbatch" \
  "${mlp[@]}")
log=$work/tide-train-$job.out
wait_for 60 "job $job wrote no checkpoint" \
  test -f "$work/batch/checkpoints/step-00000020.safetensors"
scancel --signal=TERM "$job"
# The end of the requeued run: its last line, then the job's end (a requeue passes through
# states that look final, so the job's state alone does not say it).
wait_for 90 "job $job did not end its requeued run" \
  grep -q "^run directory: $work/batch" "$log"
state=$(final_state "$job" 30)
[[ $state == "JobState=COMPLETED " ]] || fail "job $job ended $state"
stopped=$(grep -o -E "stopped at step [0-9]+ \(SIGTERM received\)" "$log" | grep -o -E "[0-9]+" || true)
[[ -n $stopped ]] || fail "SIGTERM did not stop the first run ($(tail -3 "$log"))"
((stopped < 300)) || fail "SIGTERM came after the run's end (step $stopped)"
expect_line "$log" "\(SIGTERM received\); checkpoint .*/step-0*$stopped\.json" \
  "SIGTERM did not end the first run with a checkpoint of step $stopped"
expect_line "$log" "requeueing job $job" "the job did not requeue itself"
expect_line "$log" "resuming from .*/step-0*$stopped\.json" \
  "the requeued job did not resume from the checkpoint of step $stopped"
same_bytes "$work/batch/checkpoints/step-00000300.safetensors" \
  "$work/srun/checkpoints/step-00000300.safetensors" "the requeued job's end and an unstopped run's"
echo "sbatch: SIGTERM at step $stopped, requeued, resumed, identical at step 300"

# 3. The heterogeneous job of the case study.
job=$(TIDE=$tide TIDE_ROOT=$root TIDE_WORK=$work/series sbatch --parsable \
  "$root/examples/slurm/timeseries.sbatch")
state=$(final_state "$job" 180)
log=$work/tide-timeseries-$job.out
[[ $state == "JobState=COMPLETED " ]] || {
  tail -20 "$log" >&2
  fail "the heterogeneous job $job ended $state"
}
expect_line "$log" "component 0 on n0 serves host=127.0.0.1 port=[0-9]+ .*passfile=" \
  "component 0 served no database, or one without a password"
expect_line "$log" "component 1 on n1, 2 ranks" "component 1 was not 2 ranks on the other node"
expect_line "$log" "rank 0/2 .* 32 per rank x 2 ranks" "the autoencoder did not train on 2 ranks"
expect_line "$log" "adjusted Rand index (0\.9[0-9]*|1\.0+)," \
  "the clusters do not match the 4 shapes (adjusted Rand index below 0.9)"
(($(wc -l <"$work/series/clusters/clusters.csv") == 801)) ||
  fail "clusters.csv does not hold the 800 series"
if [[ -e ${TMPDIR:-/tmp}/tide-pg-$job ]] || pgrep -f "tide-pg-$job/data" >/dev/null; then
  fail "component 0's database outlived the job"
fi
echo "heterogeneous job: database on n0, 2 ranks on n1, $(grep -o -E "adjusted Rand index [0-9.]+" "$log")"
