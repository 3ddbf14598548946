#!/usr/bin/env python3
"""Echo servers side by side: Corral's callback API, Corral's async API, SwiftNIO's callback
handlers and SwiftNIO's NIOAsyncChannel (issue 9, item 8).

Per round and server (the order rotates each round), a fresh server is started on CPU 1 with the
allocation counter preloaded (Benchmarks/malloc-counter, built here with cc), warmed up with
`corral bench rr -c C -d 1` on CPU 0, then measured with `corral bench rr -c C -d D`:

  cpu µs/msg     server utime+stime (/proc/PID/stat) over the measured run ÷ round trips
  allocs/msg     heap allocations (malloc, calloc, realloc, posix_memalign, aligned_alloc) over
                 the measured run ÷ round trips, read from the counter's shared file

Then the ratios the issue sets floors on, paired within each round: async/callback CPU (≤ 1.15),
async/NIOAsyncChannel CPU (≤ 0.8). The sockperf round trip of the same servers is
`python3 Benchmarks/sockperf.py --servers corral,corral-async,nio-echo,nio-echo-async`.

    python3 Benchmarks/echo.py                        # 3 rounds × 5 s, 64 connections
    python3 Benchmarks/echo.py --rounds 5 --duration 10 --servers corral,corral-async

Timing needs a quiet machine (check `cat /proc/loadavg`); allocation counts do not.
"""
import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchcommon as bc  # noqa: E402

SERVERS = {
    "corral": lambda corral, peers, port: [corral, "echo", "--port", str(port), "--loops", "1"],
    "corral-async": lambda corral, peers, port: [corral, "echo", "--port", str(port), "--loops", "1", "--async"],
    "nio-echo": lambda corral, peers, port: [os.path.join(peers, "nio-echo"), str(port), "1"],
    "nio-echo-async": lambda corral, peers, port: [os.path.join(peers, "nio-echo"), str(port), "1", "--async"],
}


def build_counter(workdir):
    lib = os.path.join(workdir, "malloc_counter.so")
    src = os.path.join(bc.BENCH_DIR, "malloc-counter", "malloc_counter.c")
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", lib, src], check=True)
    return lib


def read_count(path):
    with open(path, "rb") as f:
        return struct.unpack("<Q", f.read(8))[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--servers", default=",".join(SERVERS))
    ap.add_argument("--corral", default=os.path.join(bc.REPO_ROOT, ".build/release/corral"))
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args()
    corral = bc.ensure_corral(args.corral, not args.no_build)
    if not corral:
        raise SystemExit("no corral binary")
    peers = bc.ensure_peers(not args.no_build)
    names = [s for s in args.servers.split(",") if s]
    skipped = []
    results = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as workdir:
        counter_lib = build_counter(workdir)
        for round_index in range(args.rounds):
            order = names[round_index % len(names):] + names[:round_index % len(names)]
            for name in order:
                if name.startswith("nio") and not peers:
                    skipped.append(name)
                    continue
                r = measure_named(name, args, corral, peers, counter_lib, workdir)
                if r is None:
                    skipped.append(name)
                    continue
                results[name].append(r)
                bc.log(f"round {round_index} {name:<15} {r['cpu_us_per_msg']:6.2f} µs/msg  "
                       f"{r['allocs_per_msg']:7.3f} allocs/msg  ({r['messages']} msgs)")
    bc.log("== medians")
    for name, rs in results.items():
        if rs:
            bc.log(f"{name:<15} cpu µs/msg {statistics.median(r['cpu_us_per_msg'] for r in rs):6.2f}   "
                   f"allocs/msg {statistics.median(r['allocs_per_msg'] for r in rs):7.3f}")
    def ratio(a, b):
        pairs = [x["cpu_us_per_msg"] / y["cpu_us_per_msg"] for x, y in zip(results.get(a, []), results.get(b, []))]
        return statistics.median(pairs) if pairs else None
    for a, b, floor in (("corral-async", "corral", 1.15), ("corral-async", "nio-echo-async", 0.8)):
        r = ratio(a, b)
        if r is not None:
            bc.log(f"{a} / {b} CPU per message: {r:.3f} (floor ≤ {floor})")
    for name in sorted(set(skipped)):
        bc.log(f"NOTE: {name} was SKIPPED (missing binary or it did not start)")
    if args.json:
        bc.write_json(args.json, {"schema": "corral.echo/1", "settings": vars(args), "machine": bc.machine_info(),
                                  "results": results, "skipped": sorted(set(skipped))})


def measure_named(name, args, corral, peers, counter_lib, workdir):
    """Starts server `name` on a free port and measures it."""
    port = bc.free_port()
    argv = SERVERS[name](corral, peers, port)
    return measure_with_port(name, argv, port, args, corral, counter_lib, workdir)


def measure_with_port(name, argv, port, args, corral, counter_lib, workdir):
    """One server under the allocation counter: warm-up, then CPU and allocations over the measured run."""
    count_file = os.path.join(workdir, f"{name}.count")
    env = dict(os.environ, LD_PRELOAD=counter_lib, MALLOC_COUNTER_FILE=count_file)
    proc = subprocess.Popen(["taskset", "-c", "1", *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env, start_new_session=True)
    messages = 0
    try:
        if not bc.wait_listening(proc, port, timeout=30):
            return None
        rr = ["taskset", "-c", "0", corral, "bench", "rr", f"127.0.0.1:{port}", "-c", str(args.connections),
              "--size", str(args.size)]
        subprocess.run(rr + ["-d", "1"], check=True, capture_output=True)
        allocs0, ticks0 = read_count(count_file), bc.proc_cpu_ticks(proc.pid)
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            subprocess.run(rr + ["-d", str(args.duration), "--json", out.name], check=True, capture_output=True)
            messages = json.load(open(out.name))["requests"]
        allocs1, ticks1 = read_count(count_file), bc.proc_cpu_ticks(proc.pid)
    finally:
        proc.send_signal(2)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if not messages:
        return None
    return {
        "messages": messages,
        "cpu_us_per_msg": (ticks1 - ticks0) / bc.CLK_TCK * 1e6 / messages,
        "allocs_per_msg": (allocs1 - allocs0) / messages,
    }


if __name__ == "__main__":
    main()
