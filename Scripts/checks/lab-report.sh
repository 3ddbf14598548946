#!/usr/bin/env bash
# Runs one quick lab experiment through the real CLI and renders its HTML report in headless
# Chromium, failing on a blank or broken page (Scripts/render-report.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
CORRAL=${CORRAL:-.build/debug/corral}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$CORRAL" lab herd --quick --repeats 1 --json "$out/herd.json" --report "$out/report" > "$out/table.txt"
grep -q '"schema" : "corral.lab/1"' "$out/herd.json" || grep -q '"schema":"corral.lab/1"' "$out/herd.json" || {
    echo "not ok - lab JSON lacks the corral.lab/1 schema"; exit 1; }
bash Scripts/render-report.sh "$out/report" "$out/png"
echo "ok - corral lab herd --quick: table, JSON and a report Chromium renders"
