#!/usr/bin/env bash
# Heap allocations per request in steady state stay at zero: the hot paths' allocation counts
# against committed thresholds (allocations.py), so a change that starts allocating per
# request fails CI instead of showing up later as a few percent of CPU. Counted, not timed: an
# LD_PRELOAD counter (Benchmarks/malloc-counter) in release builds (a debug build allocates
# where the optimiser would not), on keep-alive connections that are warmed up first.
#
#   bash Scripts/checks/allocations.sh
#
# Measures `corral serve` (a 13-byte file), `corral echo` (64-byte messages), and Examples'
# `hello` (the sync and the async route), on epoll and on uring.
# One line per server, `ok - …` / `not ok - …`; exits non-zero on any failure. 127.0.0.1 only.
set -uo pipefail
cd "$(dirname "$0")/../.."
source Scripts/checks/lib/tap.sh

[ $# -eq 0 ] || { echo "usage: $0 (no arguments)" >&2; exit 2; }
require_tools cc python3

echo "== swift build -c release --product corral; Examples: --product hello"
swift build -c release --product corral 2>&1 | tail -1 || { echo "not ok - corral does not build in release"; exit 1; }
swift build -c release --package-path Examples --product hello 2>&1 | tail -1 \
  || { echo "not ok - Examples: hello does not build in release"; exit 1; }
CORRAL="$(swift build -c release --show-bin-path)/corral"
HELLO="$(swift build -c release --package-path Examples --show-bin-path)/hello"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/corral-allocations.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cc -O2 -shared -fPIC -o "$WORK/malloc_counter.so" Benchmarks/malloc-counter/malloc_counter.c \
  || { echo "not ok - the malloc counter does not build"; exit 1; }
mkdir "$WORK/root"
printf 'Hello, world\n' >"$WORK/root/index.html"

# Where io_uring is unavailable the uring servers say so in one line and run on epoll.
backends=(epoll uring)

servers=()
for backend in "${backends[@]}"; do
  servers+=("http-serve-$backend@/index.html=$CORRAL serve $WORK/root --port {port} --loops 1 --backend $backend")
  servers+=("echo-$backend=$CORRAL echo --port {port} --loops 1 --backend $backend")
  servers+=("http-sync-route-$backend@/=$HELLO --port {port} --loops 1 --sync --backend $backend")
  servers+=("http-async-route-$backend@/=$HELLO --port {port} --loops 1 --backend $backend")
done
python3 Scripts/checks/allocations.py --counter "$WORK/malloc_counter.so" "${servers[@]}"
