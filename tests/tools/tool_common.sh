# Shared helpers of the ckpt tool tests. Sourced, not run.
#
# Environment (from tests/tools/CMakeLists.txt and ckpt_add_script_test):
#   CKPT_TOOL              the ckpt executable
#   CKPT_MAKE_CHECKPOINTS  the test program that writes delta chains
#   CKPT_PYTHON            python3, to parse --json output back
#   CKPT_H5DUMP            h5dump (dataset offsets for damage injection)
#   CKPT_HEAT              the heat example (optional)
#   CKPT_MPIEXEC, CKPT_MPIEXEC_NUMPROC_FLAG  the launcher

set -euo pipefail

read -r -a MPIEXEC <<<"${CKPT_MPIEXEC:-mpiexec --oversubscribe}"
NP_FLAG=${CKPT_MPIEXEC_NUMPROC_FLAG:--n}
TOOL=${CKPT_TOOL:?CKPT_TOOL is not set}
GEN=${CKPT_MAKE_CHECKPOINTS:?CKPT_MAKE_CHECKPOINTS is not set}
PYTHON=${CKPT_PYTHON:-python3}
TEST_NAME=$(basename "$0" .sh)
CHECKS=0

log() { printf '[%s] %s\n' "$TEST_NAME" "$*"; }
fail() {
  printf '[%s] FAIL: %s\n' "$TEST_NAME" "$*" >&2
  exit 1
}
pass() {
  CHECKS=$((CHECKS + 1))
  log "ok: $*"
}

# mpi NP CMD...: runs CMD on NP ranks (bounded in time).
mpi() {
  local np=$1
  shift
  timeout -k 10 120 "${MPIEXEC[@]}" "$NP_FLAG" "$np" "$@"
}

# tool ARGS...: runs ckpt; stdout in OUT, stderr in ERR, exit status in RC.
OUT=out.txt
ERR=err.txt
tool() {
  RC=0
  timeout -k 10 120 "$TOOL" "$@" >"$OUT" 2>"$ERR" || RC=$?
  ((RC != 124)) || fail "ckpt $* did not finish within 120 s"
}

show_output() {
  sed 's/^/    | /' "$OUT"
  sed 's/^/    ! /' "$ERR"
}

# expect RC ARGS...: runs ckpt and requires exit status RC. Every failure
# must be reported as exactly one line on stderr, without HDF5 diagnostics or
# a crash.
expect() {
  local want=$1
  shift
  tool "$@"
  if ((RC != want)); then
    show_output
    fail "ckpt $* exited with $RC, expected $want"
  fi
  if grep -q -E 'HDF5-DIAG|terminate called|Aborted|Segmentation|core dumped|#[0-9]+: ' "$ERR"; then
    show_output
    fail "ckpt $* printed diagnostics or crashed"
  fi
  if ((want != 0)); then
    local lines
    lines=$(grep -c . "$ERR" || true)
    if ((lines != 1)); then
      show_output
      fail "ckpt $* should report one line on stderr, printed $lines"
    fi
  fi
}

# expect_error RC PATTERN ARGS...: a one-line error matching PATTERN (ERE).
expect_error() {
  local want=$1 pattern=$2
  shift 2
  expect "$want" "$@"
  grep -q -E -e "$pattern" "$ERR" || {
    show_output
    fail "ckpt $*: the error does not match '$pattern'"
  }
  pass "ckpt $* -> exit $want: $(head -c 200 "$ERR")"
}

# out_has PATTERN / out_lacks PATTERN: on the last command's stdout.
out_has() {
  grep -q -E -e "$1" "$OUT" || {
    show_output
    fail "the output lacks '$1'"
  }
}
out_lacks() {
  if grep -q -E -e "$1" "$OUT"; then
    show_output
    fail "the output has '$1'"
  fi
}

# json EXPR: evaluates the Python expression EXPR with `d` bound to the JSON
# document on the last command's stdout; fails unless the output parses and
# EXPR is true.
json() {
  "$PYTHON" - "$OUT" "$1" <<'PY' || fail "JSON check failed: $1"
import json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
ok = eval(sys.argv[2], {"d": d})
if not ok:
    print("JSON check is false: " + sys.argv[2], file=sys.stderr)
    print(json.dumps(d, indent=1)[:3000], file=sys.stderr)
    sys.exit(1)
PY
}

# json_value EXPR: prints the value of EXPR (Python, `d` = the JSON document).
json_value() {
  "$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d}))' \
    "$OUT" "$1"
}

# make_dir DIR NP COUNT BASE_EVERY: a directory of COUNT checkpoints.
make_dir() {
  rm -rf "$1"
  mpi "$2" "$GEN" write "$1" "$3" "$4" >gen.txt 2>&1 || {
    cat gen.txt
    fail "make_checkpoints write $*"
  }
}

data_file() { printf '%s/ckpt.v%06d.h5\n' "$1" "$2"; }
commit_file() { printf '%s/ckpt.v%06d.commit\n' "$1" "$2"; }

# dataset_offset FILE DATASET: byte offset of a contiguous dataset in FILE.
dataset_offset() {
  local offset
  offset=$("${CKPT_H5DUMP:-h5dump}" -p -H -d "$2" "$1" | awk '$1 == "OFFSET" { print $2 }')
  [[ $offset =~ ^[0-9]+$ ]] || fail "cannot find the offset of $2 in $1 (h5dump)"
  printf '%s\n' "$offset"
}

# flip_byte FILE OFFSET: inverts the byte at OFFSET in place.
flip_byte() {
  local file=$1 offset=$2 old
  old=$(od -A n -t u1 -j "$offset" -N 1 "$file" | tr -d ' ')
  [[ -n $old ]] || fail "$file has no byte at offset $offset"
  # shellcheck disable=SC2059 # the format is the octal escape itself
  printf "\\$(printf '%03o' $((old ^ 255)))" | dd of="$file" bs=1 seek="$offset" conv=notrunc status=none
  log "flipped the byte at offset $offset of $file"
}

# region_field DIR VERSION RANK REGION FIELD: a field of a region from inspect --json.
region_field() {
  tool inspect "$1" "$2" --json
  ((RC == 0)) || fail "ckpt inspect $1 $2 failed"
  json_value "[r for k in d['ranks'] if k['rank'] == $3 for r in k['regions'] if r['id'] == $4][0]['$5']"
}

finish() { log "PASS ($CHECKS checks)"; }
