#!/usr/bin/env bash
# Installs the Debian packages Corral's checks, the lab and the benchmarks use, when they are
# missing: curl (HTTP integration test), chromium (renders the lab report to check it), python3;
# for the lab, iproute2 (ip and tc: network namespaces, veth, netem), nginx (a subject of
# `lab herd` and `lab balance`; its service is not started), bpftrace (scheduler wake-ups
# from tracepoints) and linux-perf (`perf stat` counts syscalls per request for `lab backends`),
# and mounts tracefs for both. Benchmarks add their own peers (sockperf,
# wrk, nginx-light) with --bench. Idempotent and quiet: a second run installs nothing.
set -euo pipefail
want=(curl python3 chromium iproute2 nginx bpftrace linux-perf)
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
  # Packages with services (nginx) must not start them: the lab starts nginx with its own config.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# bpftrace and perf read tracepoints through tracefs, which this kind of machine does not mount at boot.
if [ ! -d /sys/kernel/tracing/events ] && [ "$(id -u)" = 0 ]; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || echo "setup: could not mount tracefs: the lab counts wake-ups from schedstat instead" >&2
fi
