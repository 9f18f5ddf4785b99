#!/usr/bin/env bash
# Runs the whole test suite: installs what is missing, builds, and runs ctest
# (unit tests, MPI tests at 1, 2 and 4 ranks, kill/restart integration tests,
# the tool and packaging tests, and the Slurm end-to-end tests, which start
# their own single-node Slurm and are skipped with a message when they cannot).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
bash scripts/install-deps.sh
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
cd "$BUILD_DIR"
ctest --output-on-failure -j"$(nproc)" "$@"
