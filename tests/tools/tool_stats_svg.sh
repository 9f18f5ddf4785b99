# ckpt stats --svg: the picture of a directory's history is well-formed XML
# with exactly one mark per checkpoint of the stats file, in order, bases and
# deltas told apart; --json stays pure JSON; an unwritable file is a one-line
# error (exit 2).
source "$(dirname "$0")/tool_common.sh"

# 2 ranks, 6 checkpoints, a base every 4: bases 1 and 5, deltas in between.
make_dir good 2 6 4
log "wrote checkpoints 1-6 on 2 ranks"

# svg_check FILE EXPR: evaluates the Python expression EXPR with `marks`
# bound to the <g class="checkpoint"> elements of the SVG document FILE
# (which must parse as XML) and `root` to its root element.
svg_check() {
  "$PYTHON" - "$1" "$2" <<'PY' || fail "SVG check failed: $2"
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg", root.tag
marks = [g for g in root.iter(ns + "g") if g.get("class") == "checkpoint"]
ok = eval(sys.argv[2], {"marks": marks, "root": root, "ns": ns})
if not ok:
    print("SVG check is false: " + sys.argv[2], file=sys.stderr)
    print([m.attrib for m in marks], file=sys.stderr)
    sys.exit(1)
PY
}

expect 0 stats good --svg history.svg
out_has '^history drawn in history.svg \(SVG\)$'
out_has '^6 checkpoint\(s\): '
[[ -s history.svg ]] || fail "no history.svg"
LINES=$(grep -c . good/ckpt.stats)
svg_check history.svg "len(marks) == $LINES == 6"
svg_check history.svg '[m.get("data-version") for m in marks] == ["1", "2", "3", "4", "5", "6"]'
svg_check history.svg '[m.get("data-kind") for m in marks] == ["base", "delta", "delta", "delta", "base", "delta"]'
svg_check history.svg 'all(len(m.findall(ns + "rect")) == 3 and m.find(ns + "title") is not None for m in marks)'
svg_check history.svg 'any((t.text or "").startswith("Checkpoint history of good") for t in root.iter(ns + "text"))'
pass "stats --svg: valid XML, one mark per checkpoint (6), kinds in order"

# With --json, stdout is the JSON document alone; the picture is written too.
rm -f history.svg
expect 0 stats good --json --svg history.svg
json 'len(d["checkpoints"]) == 6'
svg_check history.svg 'len(marks) == 6'
pass "stats --json --svg: JSON on stdout, picture in the file"

# A directory name with XML special characters ends up escaped in the title.
mkdir -p 'a&b<c>'
cp good/ckpt.stats 'a&b<c>/'
expect 0 stats 'a&b<c>' --svg odd.svg
svg_check odd.svg 'any((t.text or "") == "Checkpoint history of a&b<c>" for t in root.iter(ns + "text"))'
pass "stats --svg: text escaped"

expect_error 2 'cannot write no/such/dir/x.svg' stats good --svg no/such/dir/x.svg
[[ ! -e no/such/dir/x.svg ]] || fail "a picture appeared in a missing directory"

finish
