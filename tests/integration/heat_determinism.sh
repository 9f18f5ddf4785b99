#!/usr/bin/env bash
# The final field of heat must not depend on the decomposition: clean runs on
# 1, 2, 3 and 4 ranks (1x1, 2x1, 3x1, 2x2 blocks, uneven splits included)
# print the same checksum, for both initial fields.
#
# usage: heat_determinism.sh HEAT
set -euo pipefail
HEAT=$1
source "$(dirname "$0")/common.sh"

rm -rf det && mkdir det
for init in pattern cold; do
  first=
  for np in 1 2 3 4; do
    run_heat "$np" "det/$init-$np.txt" --nx 203 --ny 157 --steps 150 --init "$init" \
      --checkpoint-every 0 --dir det/ckpt
    ((RC == 0)) || fail "the run on $np ranks failed"
    sum=$(checksum_of "det/$init-$np.txt")
    if [[ -z $first ]]; then
      first=$sum
    else
      [[ $sum == "$first" ]] || fail "--init $init: $np ranks give $sum, 1 rank gave $first"
    fi
  done
  log "--init $init: 1, 2, 3 and 4 ranks all give checksum $first"
done
[[ $(checksum_of det/pattern-1.txt) != $(checksum_of det/cold-1.txt) ]] ||
  fail "the two initial fields give the same checksum"
rm -rf det
log "PASS"
