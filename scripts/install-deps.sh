#!/usr/bin/env bash
# Installs the Debian 12 packages libckpt needs to build and test. Idempotent
# and quick when everything is present (one dpkg query, no network).
# Usage: scripts/install-deps.sh [--ci]   (as root, or with sudo available)
#   --ci  also the tools of the CI stages of scripts/run-tests.sh: clang-14
#         (sanitizer build, libFuzzer runtime), clang-format-14, clang-tidy-14
set -euo pipefail

packages=(
  build-essential cmake pkg-config gfortran python3
  libopenmpi-dev openmpi-bin
  libhdf5-openmpi-dev hdf5-tools
  libboost-program-options-dev libgtest-dev libhwloc-dev libxxhash-dev
  python3-numpy python3-mpi4py python3-h5py python3-xxhash
)
if [[ ${1:-} == --ci ]]; then
  packages+=(clang-14 clang-format-14 clang-tidy-14 libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "[install-deps] all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "[install-deps] missing: ${missing[*]}; run as root" >&2; exit 1; }
  SUDO=sudo
fi
echo "[install-deps] installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"; then
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
