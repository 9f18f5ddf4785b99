#!/usr/bin/env bash
# heat_overhead.sh: what checkpointing costs a real application.
#
# Runs apps/heat with a checkpoint every K steps and the same run without
# checkpoints (--checkpoint-every 0: the libckpt session exists, nothing is
# written), alternating the two over --reps repetitions (ABBA order), each
# checkpointing run in a fresh directory. A third, short run with --steps 0
# measures the fixed cost (launch, MPI and HDF5 start-up, finalize) so that
# the overhead can also be given on the time-stepping part alone.
# The final checksums of every run must agree: checkpointing must not change
# the result.
#
# Usage: bench/heat_overhead.sh [--build DIR] [--np N] [--nx N] [--ny N] [--steps N]
#                               [--every K] [--reps R] [--json FILE]
#                               [-- extra heat options, e.g. --config FILE]
#   e.g. bench/heat_overhead.sh --build build --np 2 --nx 2048 --ny 2048 --steps 400 --every 50
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bench_env.sh"

# Knobs
build="$(bench_default_build)"
np=2
nx=2048
ny=2048
steps=400
every=50
reps=3
json_out=""

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --np) np="$2"; shift 2 ;;
    --nx) nx="$2"; shift 2 ;;
    --ny) ny="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --every) every="$2"; shift 2 ;;
    --reps) reps="$2"; shift 2 ;;
    --json) json_out="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    *) echo "heat_overhead.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
for v in np nx ny steps every reps; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "heat_overhead.sh: --$v must be >= 1" >&2; exit 2; }
done

bench_launcher
bench_python
heat="$build/apps/heat/heat"
bench_require "$heat" heat
bench_scratch

# run <label> <rep> <checkpoint-every> <steps>: appends "label rep seconds checksum".
run() {
  local label="$1" rep="$2" k="$3" n="$4" dir="$BENCH_WORK/ckpt.$1.$2"
  local log="$BENCH_WORK/$1.$2.log" start end
  start=$(date +%s%N)
  if ! "${MPIEXEC[@]}" "$NP_FLAG" "$np" env CKPT_LOG_LEVEL=warning "$heat" --nx "$nx" --ny "$ny" \
      --steps "$n" --checkpoint-every "$k" --dir "$dir" "${@:5}" >"$log" 2>&1; then
    cat "$log" >&2
    echo "heat_overhead.sh: heat failed ($label, repetition $rep)" >&2
    exit 1
  fi
  end=$(date +%s%N)
  local sum
  sum=$(awk '/^checksum /{print $2}' "$log")
  [[ -n "$sum" ]] || { cat "$log" >&2; echo "heat_overhead.sh: no checksum printed" >&2; exit 1; }
  local files=0
  [[ -d "$dir" ]] && files=$(find "$dir" -type f | wc -l)
  echo "$label $rep $(( (end - start) / 1000 )) $sum $files" >>"$BENCH_WORK/times"
  rm -rf "$dir"
}

echo "heat_overhead: ${MPIEXEC[*]} $NP_FLAG $np $heat --nx $nx --ny $ny --steps $steps" \
     "--checkpoint-every {0,$every} $*" >&2
for ((r = 1; r <= reps; r++)); do
  echo "repetition $r/$reps" >&2
  if ((r % 2 == 1)); then
    run plain "$r" 0 "$steps" "$@"
    run ckpt "$r" "$every" "$steps" "$@"
  else
    run ckpt "$r" "$every" "$steps" "$@"
    run plain "$r" 0 "$steps" "$@"
  fi
  run startup "$r" 0 0 "$@"
done

"$PYTHON" - "$BENCH_WORK/times" "$np" "$nx" "$ny" "$steps" "$every" "$reps" "$json_out" <<'EOF'
import json, os, statistics, sys

times, np_, nx, ny, steps, every, reps, json_out = sys.argv[1:9]
np_, nx, ny, steps, every, reps = map(int, (np_, nx, ny, steps, every, reps))
runs = {}
sums = {}
for line in open(times):
    label, rep, micros, checksum, files = line.split()
    runs.setdefault(label, {})[int(rep)] = int(micros) / 1e6
    if label != "startup":
        sums.setdefault(checksum, []).append(f"{label}#{rep}")
if len(sums) != 1:
    sys.exit(f"heat_overhead.sh: the runs disagree on the final checksum: {sums}")

plain = [runs["plain"][r] for r in range(1, reps + 1)]
ckpt = [runs["ckpt"][r] for r in range(1, reps + 1)]
startup = [runs["startup"][r] for r in range(1, reps + 1)]
checkpoints = steps // every
fixed = statistics.median(startup)
overhead = [100.0 * (c - p) / p for p, c in zip(plain, ckpt)]
stepping = [100.0 * (c - p) / (p - fixed) for p, c in zip(plain, ckpt) if p > fixed]
per_ckpt = [(c - p) / checkpoints for p, c in zip(plain, ckpt)]
state = nx * ny * 8
load = os.getloadavg()[0]

m = statistics.median
print(f"heat_overhead: {nx}x{ny} grid ({state / 2**20:.1f} MiB of doubles) on {np_} rank(s), "
      f"{steps} steps, a checkpoint every {every} steps ({checkpoints} checkpoints), {reps} "
      f"repetition(s); load average {load:.2f} at the end")
print(f"final checksum of every run: {next(iter(sums))} (identical with and without checkpoints)\n")
rows = [
    ("run without checkpoints (s)", f"{m(plain):.3f}"),
    (f"run with a checkpoint every {every} steps (s)", f"{m(ckpt):.3f}"),
    ("fixed cost: launch + start-up + finalize, --steps 0 (s)", f"{fixed:.3f}"),
    ("overhead on the whole run (%)", f"{m(overhead):.1f}"),
    ("overhead on the time-stepping part (%)", f"{m(stepping):.1f}" if stepping else "-"),
    ("cost per checkpoint (s)", f"{m(per_ckpt):.3f}"),
]
w = max(len(a) for a, _ in rows)
for a, b in rows:
    print(f"{a.ljust(w)}  {b.rjust(8)}")
print("(wall times of the launcher, median over the repetitions; overheads: median of the "
      "per-repetition values)")

if json_out:
    with open(json_out, "w") as f:
        json.dump({"benchmark": "heat_overhead", "ranks": np_, "nx": nx, "ny": ny, "steps": steps,
                   "checkpoint_every": every, "checkpoints": checkpoints, "reps": reps,
                   "state_bytes": state, "checksum": next(iter(sums)),
                   "plain_s": plain, "ckpt_s": ckpt, "startup_s": startup,
                   "overhead_percent": m(overhead),
                   "stepping_overhead_percent": m(stepping) if stepping else None,
                   "seconds_per_checkpoint": m(per_ckpt), "load_average_end": load},
                  f, indent=2)
        f.write("\n")
EOF
