#!/usr/bin/env bash
# Runs quick lab experiments through the real CLI — herd, nagle over an emulated wire (where
# network namespaces may be made), and `lab compare` — and renders the HTML reports in headless
# Chromium, failing on a blank or broken page (Scripts/render-report.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
CORRAL=${CORRAL:-.build/debug/corral}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() { echo "not ok - $*"; exit 1; }

"$CORRAL" lab herd --quick --repeats 1 --json "$out/herd.json" --report "$out/report" > "$out/table.txt"
grep -q '"schema" : "corral.lab/1"' "$out/herd.json" || grep -q '"schema":"corral.lab/1"' "$out/herd.json" ||
    fail "lab JSON lacks the corral.lab/1 schema"
bash Scripts/render-report.sh "$out/report" "$out/png"
echo "ok - corral lab herd --quick: table, JSON and a report Chromium renders"

# Bad flags: one line, non-zero exit.
if "$CORRAL" lab herd --net veth > "$out/err.txt" 2>&1; then fail "lab herd --net veth was accepted"; fi
[ "$(wc -l < "$out/err.txt")" -eq 1 ] && grep -q "does not take --net" "$out/err.txt" || fail "lab herd --net: $(cat "$out/err.txt")"
if "$CORRAL" lab nagle --net wire:2 > "$out/err.txt" 2>&1; then fail "lab nagle --net wire:2 was accepted"; fi
grep -q "needs a unit" "$out/err.txt" || fail "lab nagle --net wire:2: $(cat "$out/err.txt")"
echo "ok - --net refuses experiments that do not take it and delays without a unit"

# Over an emulated wire (root only: the lab makes network namespaces).
if [ "$(id -u)" = 0 ]; then
    "$CORRAL" lab nagle --quick --repeats 2 --net wire:2ms --json "$out/nagle.json" --report "$out/nagle" > "$out/nagle.txt" 2> "$out/nagle.err"
    grep -q "^wire:2ms  *corral" "$out/nagle.txt" || fail "no corral row over wire:2ms: $(cat "$out/nagle.txt")"
    grep -q "note: --net wire: client and server in network namespaces" "$out/nagle.txt" || fail "the nagle table does not say which wire ran"
    echo "ok - corral lab nagle --net wire:2ms: client and server in namespaces, and the table says which wire ran"
    # Without the right to make namespaces: one line, and nothing run.
    if command -v setpriv > /dev/null; then
        setpriv --reuid=65534 --regid=65534 --clear-groups "$CORRAL" lab nagle --quick --net veth --report "$out/none" > "$out/nobody.txt" 2>&1 ||
            fail "lab --net veth as nobody exited non-zero: $(cat "$out/nobody.txt")"
        [ "$(wc -l < "$out/nobody.txt")" -eq 1 ] && grep -q "skipped: network namespaces need root" "$out/nobody.txt" ||
            fail "lab --net veth as nobody: $(cat "$out/nobody.txt")"
        echo "ok - without namespace rights, lab --net says so in one line and skips"
    fi
else
    echo "ok - skipped: corral lab nagle --net wire:2ms needs root (network namespaces)"
fi

# Run against run: a table and a page.
"$CORRAL" lab compare "$out/herd.json" "$out/herd.json" --html "$out/compare.html" > "$out/compare.txt"
grep -q "figures compared: 0 higher and 0 lower" "$out/compare.txt" || fail "lab compare: $(head -5 "$out/compare.txt")"
bash Scripts/render-report.sh "$out/compare.html" "$out/png"
echo "ok - corral lab compare: table and a page Chromium renders"
