#!/usr/bin/env bash
# run_ckpt.sh: the checkpoint write and restart benchmarks over several rank
# counts, then one table of every target of issue 5 with PASS/SHORT.
#
# Runs <build>/bench/ckpt_write and/or <build>/bench/ckpt_restart once per
# rank count (each program prints its own tables as it goes), keeps their
# JSON results, and summarises the targets.
#
# Usage: bench/run_ckpt.sh [--build DIR] [--np "1 2 4"] [--json DIR]
#                          [write|restart|all] [-- options passed to the program(s)]
#   e.g. bench/run_ckpt.sh --build build write -- --sizes 64MiB,1GiB
#        bench/run_ckpt.sh --build build restart -- --chains 0,1,5,10 --cache drop
# With `all`, the options after -- must suit both programs (e.g. --sizes, --reps).
# --json DIR keeps <program>.np<N>.json in DIR.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bench_env.sh"

# Knobs
build="$(bench_default_build)"
ranks="1 2 4"
json_dir=""
which="all"

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --np) ranks="$2"; shift 2 ;;
    --json) json_dir="$2"; shift 2 ;;
    write|restart|all) which="$1"; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    *) echo "run_ckpt.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

bench_launcher
bench_python
programs=()
case "$which" in
  write) programs=(ckpt_write) ;;
  restart) programs=(ckpt_restart) ;;
  all) programs=(ckpt_write ckpt_restart) ;;
esac
for p in "${programs[@]}"; do bench_require "$build/bench/$p" "bench_$p"; done
bench_scratch
out="${json_dir:-$BENCH_WORK/json}"
mkdir -p "$out"

for p in "${programs[@]}"; do
  for n in $ranks; do
    echo "== $p on $n rank(s): ${MPIEXEC[*]} $NP_FLAG $n $build/bench/$p $*"
    "${MPIEXEC[@]}" "$NP_FLAG" "$n" "$build/bench/$p" --dir "$BENCH_WORK/$p.np$n" \
      --json-file "$out/$p.np$n.json" "$@"
    echo
  done
done

"$PYTHON" - "$out" "${programs[@]}" <<'EOF'
import glob, json, os, sys

out, programs = sys.argv[1], sys.argv[2:]
def fmt_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:g} {unit}"
        n /= 1024

rows = []
for p in programs:
    files = sorted(glob.glob(f"{out}/{p}.np*.json"),
                   key=lambda f: int(f.rsplit(".np", 1)[1].split(".")[0]))
    for f in files:
        r = json.load(open(f))
        for s in r["sizes"]:
            for t in s["targets"]:
                rows.append([p, str(r["ranks"]), fmt_bytes(s["state_bytes"]), t["name"],
                             f"{t['measured']:.3f}", f"{t['comparison']} {t['target']:g}",
                             "PASS" if t["pass"] else "SHORT",
                             f"{r['load_average_start']:.1f}-{r['load_average_end']:.1f}"])
headers = ["program", "ranks", "state", "ratio", "measured", "target", "verdict", "load"]
widths = [max(len(x) for x in col) for col in zip(headers, *rows)]
left = 4
line = lambda c: "  ".join(x.ljust(w) if k < left else x.rjust(w)
                           for k, (x, w) in enumerate(zip(c, widths)))
print("Targets of issue 5 over all runs (load: load average at the start and end of the run)")
print(line(headers))
print("-" * len(line(headers)))
for r in rows:
    print(line(r))
EOF
