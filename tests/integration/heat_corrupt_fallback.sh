#!/usr/bin/env bash
# Flips one byte inside the block payload of the newest committed checkpoint
# file; the restart must report the damage (naming the file), fall back to the
# previous version, recompute the lost steps and end with the clean field.
#
# usage: heat_corrupt_fallback.sh HEAT NP
set -euo pipefail
HEAT=$1
NP=$2
source "$(dirname "$0")/common.sh"

GRID=(--nx 128 --ny 128)
STEPS=60
EVERY=10
RUN=(--steps "$STEPS" --checkpoint-every "$EVERY" --dir run/ckpt)
seed_random

rm -rf ref run && mkdir ref run
reference_checksum "$NP" ref/out.txt "${GRID[@]}" --steps "$STEPS" --dir ref/ckpt
REFERENCE=$(checksum_of ref/out.txt)

run_heat "$NP" run/first.txt "${GRID[@]}" "${RUN[@]}"
((RC == 0)) || fail "the checkpointing run failed"
expect_same_checksum run/first.txt "$REFERENCE" "checkpointing run"
NEWEST=$(newest_commit run/ckpt)
((NEWEST >= 2)) || fail "expected several committed versions, newest is $NEWEST"
FILE=$(data_file run/ckpt "$NEWEST")
[[ -f $FILE ]] || fail "the newest committed version has no file $FILE"

read -r OFFSET SIZE < <(payload_extent "$FILE")
log "payload /data of $FILE: $SIZE bytes at offset $OFFSET"
flip_byte "$FILE" $((OFFSET + (RANDOM * 32768 + RANDOM) % SIZE))

run_heat "$NP" run/restarted.txt "${GRID[@]}" "${RUN[@]}" --restart
((RC == 0)) || fail "the restart after the corruption failed"
NAME=${FILE##*/}
grep -q -F "$NAME" run/restarted.txt || fail "the restart did not report the damaged file $NAME"
log "the damage was reported:"
grep -F "$NAME" run/restarted.txt | sed 's/^/    > /'
VERSION=$(restarted_version run/restarted.txt)
STEP=$(restarted_step run/restarted.txt)
[[ $VERSION == $((NEWEST - 1)) ]] ||
  fail "restarted from version '$VERSION', expected the previous version $((NEWEST - 1))"
((STEP < STEPS)) || fail "restarted at step $STEP: the damaged version was used"
expect_same_checksum run/restarted.txt "$REFERENCE" "fallback to version $VERSION (step $STEP)"
rm -rf ref run
log "PASS"
