#!/usr/bin/env bash
# Installs the Debian packages Corral's checks and benchmarks use, when they are missing:
# curl (HTTP integration test), chromium (renders the lab report to check it), python3.
# Benchmarks add their own peers (sockperf, wrk, nginx) with --bench.
set -euo pipefail
want=(curl python3 chromium)
if [ "${1:-}" = "--bench" ]; then want+=(sockperf wrk nginx-light); fi
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# pymemcache: the memcached client that drives Examples/KeyValue (Scripts/checks/examples.sh).
python3 -c 'import pymemcache' 2>/dev/null || { echo "setup: installing pymemcache (pip)" >&2; python3 -m pip install -q pymemcache; }
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
