#!/usr/bin/env python3
"""Soak: 10 000 keep-alive connections plus a churn of short ones against `corral serve`.

    python3 Benchmarks/soak.py                         # 10 000 conns, 60 s, release build
    python3 Benchmarks/soak.py --seconds 300 --interval 2 --churn 200
    python3 Benchmarks/soak.py --connections 500 --seconds 10 --corral .build/debug/corral

Starts the server itself (on 127.0.0.1, port 0), opens the keep-alive connections, lets each
issue one GET every --interval seconds (spread evenly), and opens --churn short connections a
second (`Connection: close`, one request each) for --seconds. Then it closes every client and
stops the server with SIGINT. Pass/fail:

- zero failed requests: every response has the right status, Content-Length and body, arrives
  within --request-timeout, and no keep-alive connection is closed or reset by the server;
- stable memory: the server's RSS (VmRSS, sampled every second) at the end of the run is at
  most 1.2 × its RSS after the warm-up (the first --warmup seconds of the steady phase) plus
  --rss-slack-mib;
- no descriptor leak: /proc/PID/fd counted before any client connected and again after all of
  them closed are equal, give or take one (the listener). Open regular files are counted apart:
  the server may keep one descriptor per loop for each file it serves with sendfile (a cache,
  not a leak), so files may grow by at most loops × files served; sockets and everything else
  (epoll, eventfd, pipes) must come back exactly, ± 1;
- the server exits 0 on SIGINT.

The client is one Python thread on `selectors` (epoll), standard library only. RLIMIT_NOFILE is
raised to the hard limit (the server inherits it); if that cannot hold the connections, fewer
are opened and the output says so. Prints the figures, writes JSON to
Benchmarks/results/soak-DATE.json (or --json PATH), exits 1 if any check failed.
"""
import argparse
import collections
import errno
import os
import re
import resource
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchcommon as bc  # noqa: E402

SMALL = b"Hello, world\n"             # 13 bytes: the in-memory cache path
LARGE_SIZE = 100 * 1024               # past the 64 KiB cache limit: the sendfile path
FD_RESERVE = 64                       # descriptors kept for the selector, files, pipes


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corral", default=os.path.join(bc.REPO_ROOT, ".build", "release", "corral"))
    p.add_argument("--connections", type=int, default=10_000, help="keep-alive connections held open")
    p.add_argument("--seconds", type=float, default=60.0, help="steady phase, after all connections are up")
    p.add_argument("--interval", type=float, default=5.0,
                   help="seconds between two requests on one keep-alive connection (default 5: 2000 req/s at 10k)")
    p.add_argument("--churn", type=int, default=50, help="short connections opened per second")
    p.add_argument("--large-every", type=int, default=50,
                   help="every Nth keep-alive request asks for the 100 KiB file (sendfile path); 0 = never")
    p.add_argument("--loops", type=int, default=2)
    p.add_argument("--accept", default=None, help="accept strategy (default: the server's)")
    p.add_argument("--warmup", type=float, default=None, help="seconds of warm-up (default: min(10, seconds/4))")
    p.add_argument("--rss-slack-mib", type=float, default=8.0, help="the small constant in final ≤ 1.2×warm + c")
    p.add_argument("--request-timeout", type=float, default=10.0)
    p.add_argument("--connect-timeout", type=float, default=60.0, help="time allowed to open all connections")
    p.add_argument("--json", default=None)
    p.add_argument("--no-build", action="store_true", help="do not build the release binary if it is missing")
    return p.parse_args()


# --- /proc probes --------------------------------------------------------------------------------
def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def fd_kinds(pid):
    """The server's descriptors by kind: sockets, regular files (paths) and the rest
    (epoll, eventfd, timerfd, pipes)."""
    kinds = {"socket": 0, "file": 0, "other": 0}
    try:
        for name in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{name}")
            except OSError:
                continue
            kinds["socket" if target.startswith("socket:") else "file" if target.startswith("/") else "other"] += 1
    except OSError:
        pass
    return kinds


def thread_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return None


# --- the client ----------------------------------------------------------------------------------
class Conn:
    __slots__ = ("sock", "kind", "buf", "sent_at", "expect", "out", "requests", "alive", "key")

    def __init__(self, sock, kind):
        self.sock, self.kind = sock, kind      # kind: "keep" or "churn"
        self.buf = bytearray()
        self.sent_at = None                    # monotonic time of the request in flight (None: idle)
        self.expect = None                     # the body expected for the request in flight
        self.out = b""                         # request bytes not yet sent
        self.requests = 0
        self.alive = True


HEAD_END = b"\r\n\r\n"
CL_RE = re.compile(rb"\r\ncontent-length:[ \t]*([0-9]+)[ \t]*\r\n", re.IGNORECASE)


class Soak:
    def __init__(self, args, port, large):
        self.args, self.port, self.large = args, port, large
        self.sel = selectors.EpollSelector()
        self.keep = []
        self.due = collections.deque()          # (due time, Conn), non-decreasing: interval is constant
        self.churn_open = 0
        self.stats = collections.Counter()
        self.failures = []                      # first few failure descriptions
        self.latency_max = 0.0
        self.latency_sum = 0.0
        self.req_small = f"GET /small.txt HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        self.req_large = f"GET /large.bin HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        self.req_churn = (f"GET /small.txt HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                          f"Connection: close\r\n\r\n").encode()

    def fail(self, conn, what):
        self.stats["failed"] += 1
        self.stats[f"failed_{conn.kind}"] += 1
        if len(self.failures) < 20:
            self.failures.append(f"{conn.kind}: {what}")

    # connection set-up ------------------------------------------------------------------------
    def open_socket(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rc = s.connect_ex(("127.0.0.1", self.port))
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            raise OSError(rc, os.strerror(rc))
        return s

    def connect_all(self, n, deadline):
        """Open n keep-alive connections, at most 512 handshakes in flight (the accept backlog)."""
        pending = {}
        sel = selectors.EpollSelector()
        opened = 0
        while (opened < n or pending) and time.monotonic() < deadline:
            while opened < n and len(pending) < 512:
                try:
                    s = self.open_socket()
                except OSError as e:
                    self.stats["connect_errors"] += 1
                    if len(self.failures) < 20:
                        self.failures.append(f"connect: {e}")
                    opened += 1
                    continue
                pending[s.fileno()] = s
                sel.register(s, selectors.EVENT_WRITE)
                opened += 1
            for key, _ in sel.select(timeout=0.5):
                s = key.fileobj
                sel.unregister(s)
                del pending[s.fileno()]
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    self.stats["connect_errors"] += 1
                    if len(self.failures) < 20:
                        self.failures.append(f"connect: {os.strerror(err)}")
                    s.close()
                    continue
                conn = Conn(s, "keep")
                self.keep.append(conn)
        for s in pending.values():
            self.stats["connect_errors"] += 1
            s.close()
        sel.close()
        # register them all for reading and spread their first requests over one interval
        now = time.monotonic()
        count = len(self.keep)
        for i, conn in enumerate(self.keep):
            conn.key = self.sel.register(conn.sock, selectors.EVENT_READ, conn)
            self.due.append((now + self.args.interval * i / max(count, 1), conn))
        return count

    # requests -------------------------------------------------------------------------------
    def send(self, conn, request, expect, now):
        conn.sent_at, conn.expect, conn.out = now, expect, request
        self.flush(conn)

    def flush(self, conn):
        try:
            sent = conn.sock.send(conn.out)
        except BlockingIOError:
            sent = 0
        except OSError as e:
            self.close(conn, f"send: {e}")
            return
        conn.out = conn.out[sent:]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.out else 0)
        if conn.key.events != events:
            conn.key = self.sel.modify(conn.sock, events, conn)

    def close(self, conn, failure=None):
        if not conn.alive:
            return
        conn.alive = False
        if failure is not None:
            self.fail(conn, failure)
        try:
            self.sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()
        if conn.kind == "churn":
            self.churn_open -= 1
        else:
            self.stats["keep_lost"] += 1 if failure is not None else 0

    def on_readable(self, conn, now):
        try:
            data = conn.sock.recv(262144)
        except BlockingIOError:
            return
        except OSError as e:
            self.close(conn, f"recv: {e}" + (" with a request in flight" if conn.sent_at else " while idle"))
            return
        if not data:
            if conn.kind == "churn" and conn.sent_at is None and conn.requests == 1:
                self.stats["churn_closed_by_server"] += 1
                self.close(conn)                     # the expected close after Connection: close
            else:
                self.close(conn, "closed by the server" + (" with a request in flight" if conn.sent_at else
                                                            " while idle"))
            return
        if conn.sent_at is None:
            self.close(conn, f"{len(data)} unexpected bytes while idle")
            return
        conn.buf += data
        end = conn.buf.find(HEAD_END)
        if end < 0:
            return
        head = bytes(conn.buf[:end + 2])
        m = CL_RE.search(head)
        if m is None:
            self.close(conn, f"response without Content-Length: {head[:80]!r}")
            return
        length = int(m.group(1))
        if len(conn.buf) < end + 4 + length:
            return
        body = bytes(conn.buf[end + 4:end + 4 + length])
        extra = len(conn.buf) - (end + 4 + length)
        status = head[9:12]
        latency = now - conn.sent_at
        conn.sent_at, conn.buf = None, bytearray()
        conn.requests += 1
        if status != b"200" or body != conn.expect or extra:
            self.close(conn, f"status {status.decode(errors='replace')}, {length}-byte body "
                             f"{'matches' if body == conn.expect else 'differs'}, {extra} extra bytes")
            return
        self.stats[f"ok_{conn.kind}"] += 1
        self.latency_sum += latency
        self.latency_max = max(self.latency_max, latency)
        if conn.kind == "keep":
            self.due.append((now + self.args.interval, conn))

    # the loop -------------------------------------------------------------------------------
    def open_churn(self, now):
        try:
            s = self.open_socket()
        except OSError as e:
            self.stats["failed"] += 1
            self.stats["failed_churn"] += 1
            if len(self.failures) < 20:
                self.failures.append(f"churn connect: {e}")
            return
        conn = Conn(s, "churn")
        conn.key = self.sel.register(s, selectors.EVENT_READ, conn)
        self.churn_open += 1
        self.stats["churn_opened"] += 1
        # the request is queued at once: the kernel sends it when the handshake completes
        conn.sent_at, conn.expect, conn.out = now, SMALL, self.req_churn
        conn.key = self.sel.modify(s, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)

    def run(self, seconds, on_second):
        start = time.monotonic()
        end = start + seconds
        next_second = start + 1.0
        churn_step = 1.0 / self.args.churn if self.args.churn > 0 else None
        next_churn = start
        n = 0
        while True:
            now = time.monotonic()
            if now >= end:
                break
            # due keep-alive requests
            while self.due and self.due[0][0] <= now:
                _, conn = self.due.popleft()
                if conn.alive:
                    n += 1
                    large = self.args.large_every and n % self.args.large_every == 0
                    self.send(conn, self.req_large if large else self.req_small,
                              self.large if large else SMALL, now)
            # churn
            if churn_step is not None:
                while next_churn <= now:
                    if self.churn_open < 1000:
                        self.open_churn(now)
                    else:
                        self.stats["churn_skipped"] += 1
                    next_churn += churn_step
            if now >= next_second:
                self.sweep(now)
                on_second(now - start)
                next_second += 1.0
            wake = min(next_second, end, self.due[0][0] if self.due else end,
                       next_churn if churn_step else end)
            for key, events in self.sel.select(timeout=max(0.0, wake - time.monotonic())):
                conn = key.data
                if not conn.alive:
                    continue
                t = time.monotonic()
                if events & selectors.EVENT_WRITE and conn.out:
                    self.flush(conn)
                if events & selectors.EVENT_READ and conn.alive:
                    self.on_readable(conn, t)

    def sweep(self, now):
        """Responses that are overdue are failures (a lost request must not hide as a silence)."""
        limit = now - self.args.request_timeout
        for conn in self.keep:
            if conn.alive and conn.sent_at is not None and conn.sent_at < limit:
                self.close(conn, f"no response within {self.args.request_timeout:g} s")
        for key in list(self.sel.get_map().values()):
            conn = key.data
            if conn.kind == "churn" and conn.alive and conn.sent_at is not None and conn.sent_at < limit:
                self.close(conn, f"no response within {self.args.request_timeout:g} s")

    def finish_in_flight(self, timeout):
        """After the steady phase: no new requests, but let those in flight complete."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = any(k.data.sent_at is not None for k in self.sel.get_map().values())
            if not busy:
                return
            for key, events in self.sel.select(timeout=0.2):
                conn = key.data
                if conn.alive:
                    if events & selectors.EVENT_WRITE and conn.out:
                        self.flush(conn)
                    if events & selectors.EVENT_READ and conn.alive:
                        self.on_readable(conn, time.monotonic())
        for key in list(self.sel.get_map().values()):
            if key.data.sent_at is not None:
                self.close(key.data, "still in flight at the end")

    def close_all(self):
        for key in list(self.sel.get_map().values()):
            self.close(key.data)
        self.sel.close()


# --- main ----------------------------------------------------------------------------------------
def main():
    args = parse_args()
    corral = bc.ensure_corral(args.corral, build=not args.no_build)
    if corral is None:
        print(f"no corral binary at {args.corral}")
        return 2
    r = subprocess.run([corral, "--help"], capture_output=True, text=True, timeout=10)
    if not re.search(r"^\s+serve\s", r.stdout, re.M):
        print("SKIP: corral has no serve subcommand")
        return 0
    notes = []

    # Descriptors: raise the soft limit to the hard one (the server, our child, inherits it).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    churn_fds = min(1000, max(args.churn * 2, 16)) if args.churn else 0
    wanted = args.connections
    fit = soft - FD_RESERVE - churn_fds
    if wanted > fit:
        notes.append(f"RLIMIT_NOFILE hard limit is {hard}: holding {fit} connections instead of {wanted}")
        print(f"NOTE: {notes[-1]}")
        wanted = max(fit, 1)
    # the server answers 503 beyond --max-connections: leave room for the churn
    max_conns = wanted + churn_fds + 100

    work = tempfile.mkdtemp(prefix="corral-soak-")
    root = os.path.join(work, "root")
    os.makedirs(root)
    with open(os.path.join(root, "small.txt"), "wb") as f:
        f.write(SMALL)
    large = os.urandom(LARGE_SIZE)
    with open(os.path.join(root, "large.bin"), "wb") as f:
        f.write(large)

    argv = [corral, "serve", root, "--host", "127.0.0.1", "--port", "0", "--loops", str(args.loops),
            "--max-connections", str(max_conns)]
    if args.accept:
        argv += ["--accept", args.accept]
    errlog = open(os.path.join(work, "server.err"), "w+b")
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errlog)
    doc = {"schema": "corral.soak/1", "started": bc.now_iso(), "machine": bc.machine_info(),
           "command": argv, "args": vars(args), "notes": notes, "rlimit_nofile": [soft, hard]}
    checks = {}
    exit_code = None
    try:
        line = server.stdout.readline().decode()
        m = re.match(r"listening on (\S+):(\d+)", line)
        if not m:
            print(f"server did not start: {line!r}")
            return 1
        port = int(m.group(2))
        pid = server.pid
        time.sleep(0.3)
        fds_before = fd_count(pid)
        kinds_before = fd_kinds(pid)
        rss_start = rss_kib(pid)
        print(f"corral serve pid {pid} on 127.0.0.1:{port}, {args.loops} loops; "
              f"fds {fds_before}, RSS {rss_start / 1024:.1f} MiB, threads {thread_count(pid)}")

        soak = Soak(args, port, large)
        t0 = time.monotonic()
        opened = soak.connect_all(wanted, t0 + args.connect_timeout)
        connect_s = time.monotonic() - t0
        print(f"opened {opened}/{wanted} keep-alive connections in {connect_s:.1f} s "
              f"({soak.stats['connect_errors']} errors); server fds {fd_count(pid)}, "
              f"RSS {rss_kib(pid) / 1024:.1f} MiB")

        warmup = args.warmup if args.warmup is not None else min(10.0, args.seconds / 4)
        samples = []            # (t, rss KiB, fds)
        marks = {}
        last_print = [0.0]

        def on_second(t):
            rss, fds = rss_kib(pid), fd_count(pid)
            samples.append((round(t, 2), rss, fds))
            if "warm" not in marks and t >= warmup:
                marks["warm"] = rss
            if t - last_print[0] >= 10 - 1e-6:
                last_print[0] = t
                done = soak.stats["ok_keep"] + soak.stats["ok_churn"]
                print(f"  t={t:5.0f} s  requests ok {done:>8}  failed {soak.stats['failed']:>4}  "
                      f"RSS {rss / 1024:6.1f} MiB  fds {fds}", flush=True)

        soak.run(args.seconds, on_second)
        soak.finish_in_flight(args.request_timeout)
        rss_final = rss_kib(pid)
        fds_loaded = fd_count(pid)
        alive = sum(1 for c in soak.keep if c.alive)
        soak.close_all()

        # wait for the server to notice every close
        deadline = time.monotonic() + 15
        fds_after = fd_count(pid)
        while time.monotonic() < deadline and fds_after is not None and fds_after > fds_before + 1:
            time.sleep(0.2)
            fds_after = fd_count(pid)
        time.sleep(0.5)
        fds_after = fd_count(pid)
        kinds_after = fd_kinds(pid)
        rss_after_close = rss_kib(pid)

        s = soak.stats
        total_ok = s["ok_keep"] + s["ok_churn"]
        rss_warm = marks.get("warm", samples[0][1] if samples else rss_final)
        rss_limit = 1.2 * rss_warm + args.rss_slack_mib * 1024
        checks = {
            "all_connections_opened": opened == wanted and s["connect_errors"] == 0,
            "zero_failed_requests": s["failed"] == 0 and s["connect_errors"] == 0,
            "keepalive_connections_survived": alive == opened,
            "rss_stable": rss_final is not None and rss_final <= rss_limit,
            "no_fd_leak": (fds_after is not None
                           and abs(kinds_after["socket"] + kinds_after["other"]
                                   - kinds_before["socket"] - kinds_before["other"]) <= 1
                           and 0 <= kinds_after["file"] - kinds_before["file"] <= args.loops * 2),
        }

        server.send_signal(signal.SIGINT)
        try:
            exit_code = server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            exit_code = server.wait()
        checks["server_exits_0_on_sigint"] = exit_code == 0

        rss_values = [r for _, r, _ in samples if r]
        duration = args.seconds
        doc.update({
            "port": port,
            "connections": {"wanted": args.connections, "held": wanted, "opened": opened,
                            "still_open_at_end": alive, "connect_seconds": round(connect_s, 2),
                            "connect_errors": s["connect_errors"]},
            "requests": {"ok_keepalive": s["ok_keep"], "ok_churn": s["ok_churn"], "failed": s["failed"],
                         "failed_keepalive": s["failed_keep"], "failed_churn": s["failed_churn"],
                         "per_second": round(total_ok / duration, 1),
                         "churn_connections": s["churn_opened"], "churn_skipped": s["churn_skipped"],
                         "mean_latency_ms": round(1000 * soak.latency_sum / total_ok, 3) if total_ok else None,
                         "max_latency_ms": round(1000 * soak.latency_max, 3)},
            "failures": soak.failures,
            "rss_kib": {"start": rss_start, "after_warmup": rss_warm, "final": rss_final,
                        "limit": round(rss_limit), "max": max(rss_values) if rss_values else None,
                        "after_clients_closed": rss_after_close, "warmup_seconds": warmup},
            "fds": {"before": fds_before, "under_load": fds_loaded, "after": fds_after,
                    "before_by_kind": kinds_before, "after_by_kind": kinds_after},
            "samples": [{"t": t, "rss_kib": r, "fds": f} for t, r, f in samples],
            "server_exit_code": exit_code,
            "checks": checks,
            "passed": all(checks.values()),
        })

        print()
        print(f"keep-alive connections  {opened} opened, {alive} still open at the end")
        print(f"requests                {total_ok} ok ({s['ok_keep']} keep-alive, {s['ok_churn']} on "
              f"{s['churn_opened']} short connections), {s['failed']} failed; {total_ok / duration:.0f}/s; "
              f"latency mean {doc['requests']['mean_latency_ms']} ms, max {doc['requests']['max_latency_ms']} ms")
        print(f"server RSS              start {rss_start / 1024:.1f} MiB, after warm-up ({warmup:g} s) "
              f"{rss_warm / 1024:.1f} MiB, final {rss_final / 1024:.1f} MiB (limit {rss_limit / 1024:.1f}), "
              f"max {max(rss_values) / 1024:.1f}, after clients closed {rss_after_close / 1024:.1f} MiB")
        print(f"server fds              before {fds_before} {kinds_before}, under load {fds_loaded}, "
              f"after {fds_after} {kinds_after} (files: ≤ loops × 2 files served may stay open)")
        print(f"server exit on SIGINT   {exit_code}")
        for f in soak.failures[:10]:
            print(f"  failure: {f}")
        for name, good in checks.items():
            print(f"{'ok' if good else 'not ok'} - {name}")
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        errlog.seek(0)
        tail = errlog.read()[-2000:].decode(errors="replace")
        errlog.close()
        if tail.strip():
            doc["server_stderr_tail"] = tail
        subprocess.run(["rm", "-rf", work])
    doc["finished"] = bc.now_iso()
    for n in notes:
        print(f"NOTE: {n}")
    bc.write_json(args.json or bc.default_json_path("soak"), doc)
    return 0 if checks and all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
