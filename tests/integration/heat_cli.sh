#!/usr/bin/env bash
# heat's command line: --help, usage errors (exit 2 with a message naming the
# option), --restart without a checkpoint (exit 1 with a clear message),
# --restart=auto without one (starts fresh), --config (a libckpt INI file; an
# unknown key is a runtime error naming it), restarts that do not fit the
# checkpoint (exit 1).
#
# usage: heat_cli.sh HEAT
set -euo pipefail
HEAT=$1
source "$(dirname "$0")/common.sh"

rm -rf cli && mkdir cli

run_heat 1 cli/help.txt --help
((RC == 0)) || fail "--help exited with $RC"
grep -q -e '--checkpoint-every' cli/help.txt || fail "--help does not list --checkpoint-every"

# expect_usage_error MESSAGE ARGS...: exit code 2 and MESSAGE in the output.
expect_usage_error() {
  local message=$1
  shift
  run_heat 1 cli/usage.txt "$@"
  ((RC == 2)) || fail "heat $* exited with $RC, expected 2"
  grep -q -F -e "$message" cli/usage.txt || fail "heat $*: no message '$message'"
}
expect_usage_error "--nx must be at least 1" --nx 0
expect_usage_error "--steps must be at least 0" --steps -5
expect_usage_error "--restart must be no, yes or auto" --restart=sometimes
expect_usage_error "--init must be" --init hot
expect_usage_error "unrecognised option" --no-such-option
expect_usage_error "too many positional options" stray-argument
expect_usage_error "the argument ('abc') for option '--nx' is invalid" --nx abc
run_heat 2 cli/usage.txt --nx 1 --ny 1 # 2 ranks need at least 2 points
((RC == 2)) || fail "a grid smaller than the rank grid exited with $RC, expected 2"
grep -q -F "is too small for 2x1 ranks" cli/usage.txt || fail "no message about the small grid"

run_heat 2 cli/norestart.txt --nx 32 --ny 32 --steps 5 --dir cli/empty --restart
((RC == 1)) || fail "--restart without a checkpoint exited with $RC, expected 1"
grep -q -F "no committed checkpoint in 'cli/empty'" cli/norestart.txt ||
  fail "--restart without a checkpoint did not say so"

run_heat 2 cli/auto.txt --nx 32 --ny 32 --steps 5 --dir cli/fresh --restart=auto
((RC == 0)) || fail "--restart=auto without a checkpoint exited with $RC"
grep -q '^no checkpoint found, starting at step 0$' cli/auto.txt ||
  fail "--restart=auto did not say it starts fresh"
checksum_of cli/auto.txt >/dev/null

# Another rank count restarts (the grid is a global region; heat_n_to_m
# checks the result); another grid does not fit: exit 1, with libckpt's
# explanation.
run_heat 2 cli/two.txt --nx 32 --ny 32 --steps 4 --checkpoint-every 2 --dir cli/two
((RC == 0)) || fail "the 2-rank checkpointing run failed"
cp -r cli/two cli/two_copy
run_heat 1 cli/ranks.txt --nx 32 --ny 32 --steps 8 --dir cli/two_copy --restart
((RC == 0)) || fail "restarting a 2-rank checkpoint on 1 rank exited with $RC"
grep -q '^restarted from version 2 at step 4$' cli/ranks.txt ||
  fail "the 1-rank job did not restart from the 2-rank checkpoint"
run_heat 2 cli/grid.txt --nx 32 --ny 30 --steps 8 --dir cli/two --restart
((RC == 1)) || fail "restarting with another grid exited with $RC, expected 1"
grep -q -F "CKPT_ERR_MISMATCH" cli/grid.txt || fail "no mismatch error for the grid size"

# --config: libckpt's INI file (here it chooses the directory).
printf 'dir = cli/from-config\nlog_level = warning\n' >cli/heat.ini
run_heat 2 cli/config.txt --nx 32 --ny 32 --steps 4 --checkpoint-every 2 --config cli/heat.ini
((RC == 0)) || fail "--config exited with $RC"
[[ -e $(commit_file cli/from-config 2) ]] || fail "--config: no checkpoint in the configured dir"
printf 'no_such_key = 1\n' >cli/bad.ini
run_heat 2 cli/badconfig.txt --nx 32 --ny 32 --steps 4 --config cli/bad.ini --dir cli/bad
((RC == 1)) || fail "an unknown key in --config exited with $RC, expected 1"
grep -q -F "no_such_key" cli/badconfig.txt || fail "the unknown configuration key was not named"
rm -rf cli
log "PASS"
