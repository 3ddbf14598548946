#!/usr/bin/env python3
"""Heap allocations per request in steady state, against committed thresholds.

    python3 Scripts/checks/allocations.py --counter LIB NAME=COMMAND...

Each COMMAND (a server; `{port}` is replaced by a free port) runs with the LD_PRELOAD
allocation counter of Benchmarks/malloc-counter. The client opens its connections, warms them
up, reads the counter, sends the measured requests on the same connections, and reads the
counter again: what the server allocated per request in between, with every connection and
cache already set up. NAME's kind says what the client speaks: `http-…` (keep-alive GETs of
the path after the name's `@`, e.g. `http-serve@/index.html`) or `echo-…` (64-byte messages).

One line per server, `ok - …` / `not ok - …`; exits non-zero on any failure. Talks to
127.0.0.1 only; every socket call has a time limit.
"""
import argparse
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

CONNECTIONS = 8
WARMUP = 200          # requests per connection before the window
MEASURED = 1000       # requests per connection in the window
# Most allocations per request allowed in the window. Steady state allocates nothing per
# request; the allowance is for what runs once a second whatever the load (a date string, a
# cache sweep), so 0.01 per request still fails on a single allocation per request.
THRESHOLD = 0.01


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_count(path):
    with open(path, "rb") as f:
        return struct.unpack("<Q", f.read(8))[0]


def connect(port, deadline):
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return s
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def http_exchange(s, request, pending):
    """Sends one GET and reads its whole response; returns what was read past it."""
    s.sendall(request)
    data = pending
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response head")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise ConnectionError(f"unexpected response {head[:40]!r}")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed in the body")
        rest += chunk
    return rest[length:]


def echo_exchange(s, message, pending):
    s.sendall(message)
    data = pending
    while len(data) < len(message):
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the echo")
        data += chunk
    return data[len(message):]


def drive(conns, exchange, payload, count):
    pending = [b""] * len(conns)
    for _ in range(count):
        for i, s in enumerate(conns):
            pending[i] = exchange(s, payload, pending[i])


def measure(name, command, counter_lib, workdir):
    kind, _, path = name.partition("@")
    port = free_port()
    count_file = os.path.join(workdir, f"{kind}.count")
    env = dict(os.environ, LD_PRELOAD=counter_lib, MALLOC_COUNTER_FILE=count_file)
    log = open(os.path.join(workdir, f"{kind}.log"), "w")
    server = subprocess.Popen(command.replace("{port}", str(port)).split(), stdout=log, stderr=log, env=env)
    try:
        deadline = time.monotonic() + 15
        conns = [connect(port, deadline) for _ in range(CONNECTIONS)]
        if kind.startswith("http"):
            exchange, payload = http_exchange, f"GET {path or '/'} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()
        else:
            exchange, payload = echo_exchange, bytes(range(64))
        drive(conns, exchange, payload, WARMUP)
        before = read_count(count_file)
        drive(conns, exchange, payload, MEASURED)
        after = read_count(count_file)
        for s in conns:
            s.close()
        return (after - before) / (CONNECTIONS * MEASURED), after - before
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--counter", required=True, help="the built malloc_counter.so")
    ap.add_argument("servers", nargs="+", metavar="NAME=COMMAND")
    args = ap.parse_args()
    failed = 0
    with tempfile.TemporaryDirectory(prefix="corral-allocations-") as workdir:
        for spec in args.servers:
            name, _, command = spec.partition("=")
            if not command or "{port}" not in command:
                sys.exit(f"{spec!r}: expected NAME=COMMAND with {{port}}")
            try:
                per_request, total = measure(name, command, args.counter, workdir)
            except (OSError, ConnectionError) as error:
                print(f"not ok - {name}: {error}")
                failed += 1
                continue
            line = (f"{name}: {per_request:.4f} heap allocations per request in steady state "
                    f"({total} over {CONNECTIONS * MEASURED}; at most {THRESHOLD})")
            if per_request <= THRESHOLD:
                print(f"ok - {line}")
            else:
                print(f"not ok - {line}")
                failed += 1
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
