#!/usr/bin/env bash
# Quick start: install what is missing, build libckpt, and run the demo (a heat
# job that checkpoints, is killed with SIGKILL, restarts, and proves that its
# result is bit-for-bit identical to an uninterrupted run).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
bash scripts/install-deps.sh
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
bash scripts/demo.sh "$BUILD_DIR"
