#!/usr/bin/env bash
# heat_overhead.sh: what checkpointing costs a real application.
#
# Runs apps/heat with a checkpoint every K steps (for each K of --every) and
# the same run without checkpoints (--checkpoint-every 0: the libckpt
# session exists, nothing is written), all interleaved over --reps
# repetitions in rotating order, each run in a fresh checkpoint directory.
# A short run with --steps 0 measures the fixed cost (launch, MPI and HDF5
# start-up, finalize) so that the overhead can also be given on the
# time-stepping part alone. The final checksums of every run must agree:
# checkpointing must not change the result. The time libckpt itself reports
# for each checkpoint (its info log line) is summed too, to tell the cost
# inside checkpoint() from the slow-down of the steps around it.
#
# Usage: bench/heat_overhead.sh [--build DIR] [--np N] [--nx N] [--ny N] [--steps N]
#                               [--every K[,K...]] [--reps R] [--json FILE]
#                               [-- extra heat options, e.g. --config FILE]
#   e.g. bench/heat_overhead.sh --build build --np 2 --nx 2048 --ny 2048 --steps 1000 --every 50,250
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bench_env.sh"

# Knobs
build="$(bench_default_build)"
np=2
nx=2048
ny=2048
steps=1000
every=50,250
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
for v in np nx ny steps reps; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "heat_overhead.sh: --$v must be >= 1" >&2; exit 2; }
done
IFS=, read -r -a every_list <<<"$every"
for k in "${every_list[@]}"; do
  [[ "$k" =~ ^[1-9][0-9]*$ ]] || { echo "heat_overhead.sh: --every takes K >= 1, got $k" >&2; exit 2; }
done

bench_launcher
bench_python
heat="$build/apps/heat/heat"
bench_require "$heat" heat
bench_scratch

# run <label> <rep> <checkpoint-every> <steps> [heat options]: appends
# "label rep microseconds checksum logged-seconds" to $BENCH_WORK/times.
run() {
  local label="$1" rep="$2" k="$3" n="$4" dir="$BENCH_WORK/ckpt.$1.$2"
  local log="$BENCH_WORK/$1.$2.log" start end
  start=$(date +%s%N)
  if ! "${MPIEXEC[@]}" "$NP_FLAG" "$np" env CKPT_LOG_LEVEL=info "$heat" --nx "$nx" --ny "$ny" \
      --steps "$n" --checkpoint-every "$k" --dir "$dir" "${@:5}" >"$log" 2>&1; then
    cat "$log" >&2
    echo "heat_overhead.sh: heat failed ($label, repetition $rep)" >&2
    exit 1
  fi
  end=$(date +%s%N)
  local sum
  sum=$(awk '/^checksum /{print $2}' "$log")
  [[ -n "$sum" ]] || { cat "$log" >&2; echo "heat_overhead.sh: no checksum printed" >&2; exit 1; }
  # Seconds libckpt reports for each checkpoint in its info log line
  # ("checkpoint version N (...): ..., 0.105 s, ..."), summed over the run.
  local inside
  inside=$(awk '/checkpoint version [0-9]+ .*: / {
                  if (match($0, /, [0-9.]+ s,/)) { t += substr($0, RSTART + 2, RLENGTH - 5); n++ } }
                END { if (n) printf "%.6f", t; else print "-" }' "$log")
  echo "$label $rep $(((end - start) / 1000)) $sum $inside" >>"$BENCH_WORK/times"
  rm -rf "$dir"
}

echo "heat_overhead: ${MPIEXEC[*]} $NP_FLAG $np $heat --nx $nx --ny $ny --steps $steps" \
     "--checkpoint-every {0,$every} $*" >&2
variants=(0 "${every_list[@]}")
count=${#variants[@]}
for ((r = 1; r <= reps; r++)); do
  echo "repetition $r/$reps" >&2
  for ((i = 0; i < count; i++)); do
    k=${variants[$(((i + r - 1) % count))]}
    if [[ "$k" == 0 ]]; then
      run plain "$r" 0 "$steps" "$@"
    else
      run "every$k" "$r" "$k" "$steps" "$@"
    fi
  done
  run startup "$r" 0 0 "$@"
done

"$PYTHON" - "$BENCH_WORK/times" "$np" "$nx" "$ny" "$steps" "$every" "$reps" "$json_out" <<'EOF'
import json, os, statistics, sys

times, np_, nx, ny, steps, every, reps, json_out = sys.argv[1:9]
np_, nx, ny, steps, reps = map(int, (np_, nx, ny, steps, reps))
every = [int(k) for k in every.split(",")]
runs, logged, sums = {}, {}, {}
for line in open(times):
    label, rep, micros, checksum, inside = line.split()
    runs.setdefault(label, {})[int(rep)] = int(micros) / 1e6
    if inside != "-":
        logged.setdefault(label, []).append(float(inside))
    if label != "startup":
        sums.setdefault(checksum, []).append(f"{label}#{rep}")
if len(sums) != 1:
    sys.exit(f"heat_overhead.sh: the runs disagree on the final checksum: {sums}")

m = statistics.median
series = lambda label: [runs[label][r] for r in range(1, reps + 1)]
plain, startup = series("plain"), series("startup")
fixed = m(startup)
state = nx * ny * 8
load = os.getloadavg()[0]
results = []
for k in every:
    ckpt = series(f"every{k}")
    n = steps // k
    results.append({
        "checkpoint_every": k, "checkpoints": n, "ckpt_s": ckpt,
        "overhead_percent": m([100.0 * (c - p) / p for p, c in zip(plain, ckpt)]),
        "stepping_overhead_percent":
            m([100.0 * (c - p) / (p - fixed) for p, c in zip(plain, ckpt)])
            if all(p > fixed for p in plain) else None,
        "seconds_per_checkpoint": m([(c - p) / n for p, c in zip(plain, ckpt)]) if n else None,
        "logged_seconds_per_checkpoint":
            m(logged[f"every{k}"]) / n if n and f"every{k}" in logged else None})

print(f"heat_overhead: {nx}x{ny} grid ({state / 2**20:.1f} MiB of doubles) on {np_} rank(s), "
      f"{steps} steps, {reps} repetition(s); load average {load:.2f} at the end")
print(f"final checksum of every run: {next(iter(sums))} (identical with and without checkpoints)")
print(f"run without checkpoints: {m(plain):.3f} s; fixed cost (launch, start-up, finalize; "
      f"--steps 0): {fixed:.3f} s\n")
fmt = lambda x, f: "-" if x is None else f.format(x)
rows = [[str(e["checkpoint_every"]), str(e["checkpoints"]), f"{m(e['ckpt_s']):.3f}",
         fmt(e["overhead_percent"], "{:.1f}"), fmt(e["stepping_overhead_percent"], "{:.1f}"),
         fmt(e["seconds_per_checkpoint"], "{:.3f}"),
         fmt(e["logged_seconds_per_checkpoint"], "{:.3f}")] for e in results]
headers = ["every K steps", "checkpoints", "run s", "overhead %", "on stepping %",
           "s per checkpoint", "in checkpoint() s"]
widths = [max(len(x) for x in col) for col in zip(headers, *rows)]
line = lambda c: "  ".join(x.rjust(w) for x, w in zip(c, widths))
print(line(headers))
print("-" * len(line(headers)))
for r in rows:
    print(line(r))
print("\noverhead %: extra wall time over the run without checkpoints; on stepping %: the same\n"
      "over the time-stepping part (run minus the fixed cost); s per checkpoint: extra time /\n"
      "checkpoints; in checkpoint() s: libckpt's own figure from its log, per checkpoint.\n"
      "Medians over the repetitions of the per-repetition values; wall times of the launcher.")

if json_out:
    with open(json_out, "w") as f:
        json.dump({"benchmark": "heat_overhead", "ranks": np_, "nx": nx, "ny": ny, "steps": steps,
                   "reps": reps, "state_bytes": state, "checksum": next(iter(sums)),
                   "plain_s": plain, "startup_s": startup, "results": results,
                   "load_average_end": load}, f, indent=2)
        f.write("\n")
EOF
