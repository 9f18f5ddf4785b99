#!/usr/bin/env bash
# Quick start: install what is missing, build libckpt, and run the demo (a heat
# job and a wildfire job that checkpoint, are killed with SIGKILL, restart,
# and prove that their results are bit-for-bit identical to uninterrupted
# runs; wildfire's checkpoints are small deltas, drawn by `ckpt stats --svg`).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
bash scripts/install-deps.sh
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
bash scripts/demo.sh "$BUILD_DIR"
