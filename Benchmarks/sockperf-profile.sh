#!/usr/bin/env bash
# Where a same-CPU sockperf round trip spends the server's time: sockperf's own server against
# `corral echo --sockperf` on epoll and on uring, client and server both on CPU 0.
#
#   bash Benchmarks/sockperf-profile.sh [SECONDS] [CORRAL]      (root: perf record -C 0)
#
# For each server: `perf record -e cpu-clock -F 10000 -C 0` during `sockperf ping-pong --tcp
# -m 64 -t SECONDS`, then the server's samples per echoed message, grouped by symbol: io_uring
# (io_*), epoll (ep_*/epoll), schedule + wake-up, syscall entry/exit + fd lookup, time
# (read_tsc, ktime, hrtimer), user space (any non-kernel DSO), and the TCP stack with the rest.
# Shares, not times: the absolute figures scale with how busy the host is.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_RUN="${1:-5}"
CORRAL="${2:-.build/release/corral}"
for tool in perf sockperf taskset; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed (Scripts/setup.sh --bench)" >&2; exit 1; }
done
[ -x "$CORRAL" ] || { echo "no corral binary at $CORRAL (swift build -c release)" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/corral-sockperf-profile.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

profile() { # NAME COMM-OR-TID-MATCH COMMAND... ({port} replaced)
  local name="$1"; shift
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  local argv=("${@//\{port\}/$port}")
  taskset -c 0 "${argv[@]}" >"$WORK/$name.server.log" 2>&1 &
  local server=$!
  sleep 1
  perf record -q -e cpu-clock -F 10000 -C 0 -o "$WORK/$name.data" -- \
    taskset -c 0 sockperf ping-pong --tcp -i 127.0.0.1 -p "$port" -m 64 -t "$SECONDS_RUN" >"$WORK/$name.client.log" 2>&1
  kill "$server"; wait "$server" 2>/dev/null || true
  local messages
  messages=$(sed -n 's/.*\[Total Run\].*ReceivedMessages=\([0-9]*\).*/\1/p' "$WORK/$name.client.log")
  # The server's threads: its pid's tasks as perf saw them (sockperf sr is one thread; corral's
  # loop is "corral-loop-0" in the server process).
  perf script -i "$WORK/$name.data" -F pid,tid,ip,sym,dso 2>/dev/null |
    awk -v pid="$server" -v n="$messages" -v name="$name" '
      { split($1, ids, "/") }
      ids[1] == pid {
        s = $3; dso = $NF; cat = "tcp/net/other"
        if (s ~ /^(io_|__io_|__do_sys_io_uring)/) cat = "io_uring"
        else if (s ~ /(^ep_|epoll)/) cat = "epoll"
        else if (s ~ /(finish_task_switch|schedule|_raw_spin_unlock_irq|try_to_wake_up|ttwu|enqueue_task|dequeue|pick_next|update_curr|__switch_to|switch_mm|psi_|sched_)/) cat = "schedule/wake-up"
        else if (s ~ /(do_syscall_64|entry_SYSCALL|syscall_exit|exit_to_user_mode|__rseq|__x64_sys|fdget|fget|fput|__sys_|move_addr|_copy_from_user|__check_object_size|__virt_addr_valid)/) cat = "syscall entry/exit + fd"
        else if (s ~ /(read_tsc|ktime_get|hrtimer)/) cat = "time"
        if (dso !~ /kernel/) cat = "user space"
        c[cat]++; t++
      }
      END {
        printf "== %s: %d messages, %.4f samples per message\n", name, n, t / n
        for (k in c) printf "   %-26s %.4f\n", k, c[k] / n
      }' | { read -r header; echo "$header"; sort; }
}

profile sockperf-sr sockperf sr --tcp -i 127.0.0.1 -p '{port}'
profile corral-epoll "$CORRAL" echo --sockperf --loops 1 --port '{port}' --backend epoll
profile corral-uring "$CORRAL" echo --sockperf --loops 1 --port '{port}' --backend uring
