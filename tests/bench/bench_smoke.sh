#!/usr/bin/env bash
# Runs one benchmark of bench/ at tiny sizes and checks its JSON results.
#   bench_smoke.sh ckpt_write|ckpt_restart|run_pingpong|heat_overhead
# Needs CKPT_BUILD_DIR (set by ckpt_add_script_test); works in the current
# directory (the test's own directory in the build tree).
set -euo pipefail

case_name="$1"
bench="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../bench" && pwd)"
build="${CKPT_BUILD_DIR:?CKPT_BUILD_DIR is not set}"
out="$PWD/out.$case_name"
rm -rf "$out"
mkdir -p "$out"

check() { python3 - "$out" "$case_name" <<'EOF_PY'
import glob, json, sys

out, case = sys.argv[1], sys.argv[2]
failures = []
def expect(ok, what):
    if not ok:
        failures.append(what)

def positive_summary(s, what):
    expect(s["n"] >= 1 and s["median"] > 0 and s["min"] <= s["median"] <= s["max"],
           f"{what}: bad summary {s}")

if case == "ckpt_write":
    files = sorted(glob.glob(f"{out}/ckpt_write.np*.json"))
    expect(len(files) == 3, f"expected results for 1, 2 and 4 ranks, got {files}")
    for f in files:
        r = json.load(open(f))
        expect(r["benchmark"] == "ckpt_write", f"{f}: wrong benchmark")
        block, ranks = r["block_bytes"], r["ranks"]
        for s in r["sizes"]:
            per_rank = s["blocks"] // ranks
            expect(s["state_bytes"] == s["blocks"] * block, f"{f}: state is not whole blocks")
            for key in ("ckpt_s", "hdf5_s", "posix_s", "ckpt_over_hdf5_bandwidth"):
                positive_summary(s["full"][key], f"{f}: full.{key}")
            percents = [i["dirty_percent"] for i in s["incremental"]]
            expect(percents == [0, 1, 50, 100], f"{f}: dirty percentages {percents}")
            for i in s["incremental"]:
                want = ranks * int(i["dirty_percent"] / 100 * per_rank + 1e-9)  # rounded down
                expect(i["dirty_blocks"] == want,
                       f"{f}: {i['dirty_percent']}% wrote {i['dirty_blocks']} blocks, want {want}")
                expect(i["written_bytes"] == i["dirty_blocks"] * block,
                       f"{f}: {i['dirty_percent']}% written bytes {i['written_bytes']}")
                positive_summary(i["ckpt_s"], f"{f}: incremental ckpt_s")
                positive_summary(i["reference_s"], f"{f}: incremental reference_s")
            names = [t["name"] for t in s["targets"]]
            # issue 5's four, and issue 9's stall at 1 % and 100 %
            expect(len(names) == 6, f"{f}: targets {names}")
            expect(all(isinstance(t["pass"], bool) for t in s["targets"]), f"{f}: verdicts")
elif case == "ckpt_restart":
    files = sorted(glob.glob(f"{out}/ckpt_restart.np*.json"))
    expect(len(files) == 3, f"expected results for 1, 2 and 4 ranks, got {files}")
    for f in files:
        r = json.load(open(f))
        expect(r["cache"].startswith("cold"), f"{f}: cache mode {r['cache']}")
        for s in r["sizes"]:
            deltas = [x["deltas"] for x in s["reads"]]
            expect(deltas == [None, None, 0, 1, 10], f"{f}: reads {deltas}")
            for x in s["reads"]:
                positive_summary(x["seconds"], f"{f}: {x['read']}")
                expect(x["files"] >= 1 and x["disk_bytes"] >= s["state_bytes"],
                       f"{f}: {x['read']} has {x['files']} files, {x['disk_bytes']} bytes")
            names = [t["name"] for t in s["targets"]]
            expect(len(names) == 3, f"{f}: targets {names}")
elif case == "run_pingpong":
    r = json.load(open(f"{out}/pingpong.json"))
    sizes = [x["bytes"] for x in r["latency_us"]]
    expect(sizes == [0, 8, 1024, 65536, 1048576], f"latency sizes {sizes}")
    expect(len(r["bandwidth_MBps"]) == 3, "bandwidth sizes")
    for x in r["latency_us"] + r["bandwidth_MBps"]:
        expect(x["plain"] > 0 and len(x["plain_runs"]) == r["rounds"], f"plain column {x}")
        if r["pmpi_library"]:
            expect(x["pmpi"] > 0 and x["ratio"] > 0, f"interposed column {x}")
elif case == "heat_overhead":
    r = json.load(open(f"{out}/heat.json"))
    expect([x["checkpoints"] for x in r["results"]] == [4, 2],
           f"checkpoints {[x['checkpoints'] for x in r['results']]}")
    expect(len(r["checksum"]) == 16, f"checksum {r['checksum']}")
    times = r["plain_s"] + r["startup_s"] + [t for x in r["results"] for t in x["ckpt_s"]]
    expect(len(times) == 4 and all(t > 0 for t in times), f"run times {times}")
    expect(all(x["logged_seconds_per_checkpoint"] is not None for x in r["results"]),
           "libckpt's checkpoint log lines were not found")
for f in failures:
    print("FAIL:", f)
if failures:
    sys.exit(1)
print(f"{case}: results complete and consistent")
EOF_PY
}

case "$case_name" in
  ckpt_write)
    "$bench/run_ckpt.sh" --build "$build" --np "1 2 4" --json "$out" write -- \
      --sizes 1MiB --block-size 4KiB --dirty 0,1,50,100 --reps 1
    ;;
  ckpt_restart)
    "$bench/run_ckpt.sh" --build "$build" --np "1 2 4" --json "$out" restart -- \
      --sizes 1MiB --block-size 4KiB --chains 0,1,10 --reps 1 --cache fadvise
    ;;
  run_pingpong)
    "$bench/run_pingpong.sh" --build "$build" --rounds 2 --json "$out/pingpong.json" -- \
      --reps 2 --iters 20 --bw-bytes 1MiB --window 4
    ;;
  heat_overhead)
    "$bench/heat_overhead.sh" --build "$build" --np 2 --nx 64 --ny 64 --steps 20 --every 5,10 \
      --reps 1 --json "$out/heat.json"
    ;;
  *)
    echo "bench_smoke.sh: unknown case $case_name" >&2
    exit 2
    ;;
esac
check
