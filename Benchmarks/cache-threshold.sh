#!/usr/bin/env bash
# Where should `corral serve` stop keeping bodies in memory and use sendfile(2)?
# For each file size, serves the file once from memory and once by sendfile
# (--cache-max-file-size above / below the size) and prints the server's CPU µs per request
# under `wrk -t1 -c CONNS -d 5s` (1 s warm-up). corral on CPU 1, wrk on CPU 0.
#
#   bash Benchmarks/cache-threshold.sh [CONNS] [ROUNDS]     # defaults: 64 connections, 3 rounds; prints each round and the median
#
# Needs wrk (bash Scripts/setup.sh --bench) and a release build (swift build -c release).
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS="${1:-64}"
ROUNDS="${2:-3}"
CORRAL=.build/release/corral
command -v wrk >/dev/null || { echo "cache-threshold: wrk is not installed (bash Scripts/setup.sh --bench)" >&2; exit 1; }
[ -x "$CORRAL" ] || { echo "cache-threshold: no $CORRAL (swift build -c release)" >&2; exit 1; }
ROOT=$(mktemp -d "${TMPDIR:-/tmp}/corral-threshold.XXXXXX")
trap 'rm -rf "$ROOT"' EXIT

measure() {  # SIZE LIMIT → prints CPU µs per request
  local size=$1 limit=$2 port pid t0 t1 requests
  port=$((20000 + RANDOM % 20000))
  taskset -c 1 "$CORRAL" serve "$ROOT" --port "$port" --loops 1 --cache-max-file-size "$limit" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 50); do curl -fso /dev/null "http://127.0.0.1:$port/$size.bin" && break; sleep 0.1; done
  taskset -c 0 timeout 10 wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$port/$size.bin" >/dev/null
  t0=$(awk '{print $14+$15}' "/proc/$pid/stat")
  requests=$(taskset -c 0 timeout 15 wrk -t1 -c"$CONNS" -d5s "http://127.0.0.1:$port/$size.bin" | awk '/requests in/{print $1}')
  t1=$(awk '{print $14+$15}' "/proc/$pid/stat")
  kill -INT "$pid"; wait "$pid" || true
  python3 -c "import os; print(round(($t1-$t0) * 1e6 / os.sysconf('SC_CLK_TCK') / $requests, 2))"
}

median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

printf '%-8s %-10s %-16s %-16s\n' size round "memory µs/req" "sendfile µs/req"
for size in 4096 16384 32768 65536; do
  head -c "$size" /dev/urandom >"$ROOT/$size.bin"
  memory=(); sendfile=()
  for round in $(seq "$ROUNDS"); do  # the two ways alternate within each round
    memory+=("$(measure "$size" "$size")")
    sendfile+=("$(measure "$size" $((size - 1)))")
    printf '%-8s %-10s %-16s %-16s\n' "$size" "$round" "${memory[-1]}" "${sendfile[-1]}"
  done
  printf '%-8s %-10s %-16s %-16s\n' "$size" median "$(printf '%s\n' "${memory[@]}" | median)" "$(printf '%s\n' "${sendfile[@]}" | median)"
done
