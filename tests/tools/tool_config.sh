# ckpt config: the effective configuration and the source of each value;
# precedence flag > CKPT_<KEY> environment > file > default; unknown keys and
# bad values are errors that name the key.
source "$(dirname "$0")/tool_common.sh"

# Only the environment variables this test sets.
for var in $(env | sed -n 's/^\(CKPT_[A-Z_]*\)=.*/\1/p'); do
  case $var in
  CKPT_TOOL | CKPT_MAKE_CHECKPOINTS | CKPT_PYTHON | CKPT_H5DUMP | CKPT_HEAT | CKPT_MPIEXEC* | CKPT_BUILD_DIR) ;;
  *) unset "$var" ;;
  esac
done

expect 0 config
out_has '^keep +2 +default +default$'
expect 0 config --json
json 'all(o["source"] == "default" and o["value"] == o["default"] for o in d["options"].values())'
json 'list(d["options"])[:3] == ["dir", "prefix", "block_size"] and d["config_file"] is None'
pass "defaults"

printf '# test configuration\n[ckpt]\nkeep = 5\nblock_size = 1MiB\nbase_every = 3\nverify = false\n' >run.ini
cfg=$PWD/run.ini
expect 0 config --config "$cfg" --json
json 'd["options"]["keep"] == {**d["options"]["keep"], "value": "5", "source": "file"}'
json 'd["options"]["keep"]["origin"].endswith("run.ini") and d["config_file"].endswith("run.ini")'
json 'd["options"]["block_size"]["value"] == "1MiB" and d["options"]["dir"]["source"] == "default"'

export CKPT_KEEP=6 CKPT_BASE_EVERY=4
expect 0 config --config "$cfg" --json
json 'd["options"]["keep"]["value"] == "6" and d["options"]["keep"]["source"] == "environment"'
json 'd["options"]["keep"]["origin"] == "CKPT_KEEP"'
json 'd["options"]["block_size"]["source"] == "file" and d["options"]["verify"]["value"] == "false"'

expect 0 config --config "$cfg" --set keep=7 --base_every 9 --json
json 'd["options"]["keep"]["value"] == "7" and d["options"]["keep"]["source"] == "flag"'
json 'd["options"]["base_every"]["value"] == "9" and d["options"]["base_every"]["source"] == "flag"'
json 'd["options"]["block_size"]["source"] == "file" and d["options"]["fsync"]["source"] == "default"'
expect 0 config --config "$cfg" --set keep=7
out_has '^keep +7 +flag +command line$'
out_has '^base_every +4 +environment +CKPT_BASE_EVERY$'
out_has '^block_size +1MiB +file +.*run.ini$'
out_has '^fsync +true +default +default$'
unset CKPT_KEEP CKPT_BASE_EVERY
pass "precedence: flag > environment > file > default"

# Errors name the key (and where the value came from).
expect_error 2 "unknown configuration key 'colour'" config --set colour=blue
expect_error 2 "'keep'.*expected an integer" config --set keep=many
expect_error 2 "'keep'.*between 1 and" config --set keep=0
expect_error 2 "'block_size'" config --set block_size=12parsecs
expect_error 2 "'signal'.*one of" config --signal KILL
expect_error 2 "KEY=VALUE" config --set keep
expect_error 2 "'keep' is set twice" config --keep 3 --set keep=4
CKPT_VERIFY=perhaps expect_error 2 "'verify'.*CKPT_VERIFY" config
printf '[ckpt]\nkepe = 3\n' >typo.ini
expect_error 2 "unknown configuration key 'kepe' in .*typo.ini" config --config typo.ini
printf 'block_size = huge\n' >bad.ini
expect_error 2 "'block_size'.*bad.ini" config --config bad.ini
expect_error 2 "cannot open configuration file" config --config missing.ini
pass "errors name the key"

finish
