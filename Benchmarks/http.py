#!/usr/bin/env python3
"""HTTP/1.1 serving, side by side: static files (nginx vs SwiftNIO nio-http vs `corral serve`), or
with --hello the issue-10 hello (GET / → "Hello, world\n"): nginx `return 200`, Hummingbird 2,
SwiftNIO NIOHTTP1, Corral's router with an async handler (Examples `hello`) and a synchronous one
(`hello --sync`), and `corral serve` of the same 13 bytes (the static path).

One session. Every server is started once, pinned to CPU 1 (nginx: 1 worker with
worker_cpu_affinity, master and worker under taskset), serving the same generated root
(index.html = "Hello, world\\n" (13 B), 4k.bin, 64k.bin). For each round, file and
connection count the servers take turns (order rotated per round):

    taskset -c 0 wrk -t1 -c1 -d1s ...                       (warm-up, not recorded)
    taskset -c 0 wrk -t1 -cC -dD --timeout 5s --latency http://127.0.0.1:PORT/FILE

    python3 Benchmarks/http.py --hello --rounds 3 --duration 5 --conns 64

Figures per run: requests/s, wrk p50/p99 latency, wrk errors (connect/read/write/timeout and
non-2xx/3xx responses), server CPU µs per request = Δ(utime+stime) of the server processes
(nginx: the worker) from /proc/PID/stat around the measured run ÷ requests, and CPU0/CPU1
busy % from /proc/stat. Prints medians (min–max) and ratios vs nginx paired within each
round; writes everything to JSON.
"""
import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile

# This file is named http.py, so its own folder must be off sys.path while the standard
# library's http package is imported, or Python would import this script as `http`.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
import http.client  # noqa: E402

sys.path.insert(0, _HERE)
import benchcommon as bc  # noqa: E402

SERVER_CPU, CLIENT_CPU = 1, 0
ALL_SERVERS = ["nginx", "nio-http", "corral"]
HELLO_SERVERS = ["nginx", "hummingbird", "nio-hello", "corral", "corral-async", "corral-sync"]
HELLO = b"Hello, world\n"
FILE_SIZES = {"index.html": None, "4k.bin": 4096, "64k.bin": 65536}


def make_root(files):
    root = tempfile.mkdtemp(prefix="corral-http-root-")
    os.chmod(root, 0o755)  # nginx's worker runs as an unprivileged user: it must read the root
    for name in files:
        path = os.path.join(root, name)
        if name == "index.html":
            data = b"Hello, world\n"
        else:
            m = re.fullmatch(r"(\d+)([kKmM]?)\.bin", name)
            if not m:
                sys.exit(f"--files: {name!r} is neither index.html nor <N>[k|m].bin")
            size = int(m.group(1)) * {"": 1, "k": 1024, "m": 1 << 20}[m.group(2).lower()]
            data = bytes((i * 7 + 13) & 0xFF for i in range(size))
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o644)
    return root


NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
worker_cpu_affinity {mask};
worker_rlimit_nofile {nofile};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{
    worker_connections 4096;
    use epoll;
}}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    open_file_cache max=1000 inactive=60s;
    open_file_cache_valid 60s;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    types {{
        text/html html;
        application/octet-stream bin;
    }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {root};
        {location}
    }}
}}
"""


class NginxServer(bc.Server):
    """nginx master + 1 worker; CPU is charged to the worker(s)."""

    def pids(self):
        kids = bc.children(self.proc.pid)
        return kids or [self.proc.pid]


def make_server(name, root, args, corral, bindir, logdir):
    port = bc.free_port()
    logpath = os.path.join(logdir, f"{name}.log")
    if name == "nginx":
        prefix = tempfile.mkdtemp(prefix="corral-nginx-")
        mask = "1" + "0" * SERVER_CPU  # worker_cpu_affinity bitmask: CPU 1 = "10"
        conf = os.path.join(prefix, "nginx.conf")
        with open(conf, "w") as f:
            location = ('location = / {{ default_type text/plain; return 200 "Hello, world\\n"; }}' if args.hello
                        else "location / {{ }}")
            f.write(NGINX_CONF.format(mask=mask, prefix=prefix, port=port, root=root, location=location.format(),
                                    nofile=resource.getrlimit(resource.RLIMIT_NOFILE)[0]))
        return NginxServer(name, ["nginx", "-p", prefix, "-c", conf], port, SERVER_CPU, logpath)
    if name == "nio-http":
        return bc.Server(name, [os.path.join(bindir, "nio-http"), str(port), root, "1"], port, SERVER_CPU, logpath)
    if name in ("hummingbird", "nio-hello"):
        binary = os.path.join(bindir, "hummingbird-hello" if name == "hummingbird" else "nio-hello")
        return bc.Server(name, [binary, str(port), "1"], port, SERVER_CPU, logpath)
    backend_args = []
    label = name
    if name.endswith("-uring"):
        name, backend_args = name[: -len("-uring")], ["--backend", "uring"]
    if name in ("corral-async", "corral-sync"):
        argv = ([args.hello_binary, "--port", str(port), "--loops", "1"] + (["--sync"] if name == "corral-sync" else [])
                + backend_args)
        return bc.Server(label, argv, port, SERVER_CPU, logpath)
    if name in ("corral", "corral-base"):
        binary = corral if name == "corral" else args.corral_base
        argv = [binary, "serve", root, "--host", "127.0.0.1", "--port", str(port), "--loops", "1"] + backend_args
        if args.corral_accept:
            argv += ["--accept", args.corral_accept]
        return bc.Server(label, argv, port, SERVER_CPU, logpath)
    raise ValueError(name)


def check_server(port, root, files):
    """One GET per file over one keep-alive connection; returns a list of problems (empty = fine)."""
    problems = []
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        for name in files:
            if name:
                with open(os.path.join(root, name), "rb") as f:
                    want = f.read()
            else:
                want = HELLO  # --hello: GET /
            conn.request("GET", "/" + name)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200 or body != want:
                problems.append(f"/{name}: status {resp.status}, {len(body)} B (want 200, {len(want)} B)")
            if resp.getheader("Content-Length") != str(len(want)):
                problems.append(f"/{name}: Content-Length {resp.getheader('Content-Length')}")
        conn.close()
    except (OSError, http.client.HTTPException) as e:
        problems.append(f"{type(e).__name__}: {e}")
    return problems


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def to_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(m.group(1)) * UNITS[m.group(2)] if m else None


def parse_wrk(out):
    res = {}
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+), ([\d.]+\w+) read", out)
    if m:
        res["requests"] = int(m.group(1))
        res["wrk_duration"] = m.group(2) + m.group(3)
        res["read"] = m.group(4)
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        res["rps"] = float(m.group(1))
    for pct in ("50", "75", "90", "99"):
        m = re.search(r"^\s+" + pct + r"%\s+([\d.]+\w+)", out, re.M)
        if m:
            res[f"p{pct}_ms"] = to_ms(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errs = dict(zip(("connect", "read", "write", "timeout"), (int(x) for x in m.groups()))) if m else \
        {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs["non2xx3xx"] = int(m.group(1)) if m else 0
    res["errors"] = errs
    res["errors_total"] = sum(errs.values())
    return res


def wrk_argv(port, name, conns, duration, latency=True, close=False):
    argv = ["taskset", "-c", str(CLIENT_CPU), "wrk", "-t1", f"-c{conns}", f"-d{duration:g}s", "--timeout", "5s"]
    if close:
        argv += ["-H", "Connection: close"]  # one request per connection (issue 11)
    if latency:
        argv.append("--latency")
    return argv + [f"http://127.0.0.1:{port}/{name}"]


METRICS = ["rps", "p50_ms", "p99_ms", "errors_total", "us_per_req", "server_user_share", "cpu0_busy", "cpu1_busy"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    ap.add_argument("--duration", type=float, default=10, help="wrk -d seconds per measured run (default 10)")
    ap.add_argument("--warmup", type=float, default=1, help="unrecorded wrk run before each measured run (s, default 1)")
    ap.add_argument("--files", default="index.html,4k.bin,64k.bin", help="comma list (default index.html,4k.bin,64k.bin)")
    ap.add_argument("--conns", default="64,1000", help="comma list of wrk -c values (default 64,1000)")
    ap.add_argument("--servers", default=None,
                    help=f"comma list of {', '.join(ALL_SERVERS)} (default all); with --hello of {', '.join(HELLO_SERVERS)}")
    ap.add_argument("--hello", action="store_true",
                    help="the issue-10 hello (GET /) instead of static files; --files is ignored")
    ap.add_argument("--hello-binary", default=os.path.join(bc.REPO_ROOT, "Examples", ".build", "release", "hello"),
                    help="Examples' hello (default Examples/.build/release/hello; built if missing)")
    ap.add_argument("--corral", default=os.path.join(bc.REPO_ROOT, ".build", "release", "corral"),
                    help="corral binary (default .build/release/corral; built if missing)")
    ap.add_argument("--connection-close", action="store_true",
                    help="one request per connection: wrk -H 'Connection: close' (short-connection cost)")
    ap.add_argument("--corral-accept", default=None, help="pass --accept STRATEGY to corral serve")
    ap.add_argument("--backend", default="epoll",
                    help="comma list of corral backends (epoll, uring): each Corral server (corral, and with --hello "
                         "corral-async and corral-sync) runs once per backend, as NAME (epoll) and NAME-uring "
                         "(default epoll)")
    ap.add_argument("--corral-base", default=None, metavar="PATH",
                    help="also measure this corral binary as 'corral-base' (e.g. a build of an earlier commit)")
    ap.add_argument("--no-build", action="store_true", help="never run swift build; skip what is missing")
    ap.add_argument("--json", default=None, help="output JSON (default Benchmarks/results/http-DATE.json)")
    args = ap.parse_args()

    bc.ensure_apt({"wrk": "wrk", "nginx": "nginx-light"})
    nofile = bc.raise_nofile(65536)
    files = [""] if args.hello else [f.strip() for f in args.files.split(",") if f.strip()]
    conns = [int(c) for c in args.conns.split(",") if c.strip()]
    known = HELLO_SERVERS if args.hello else ALL_SERVERS
    names = [s.strip() for s in (args.servers or ",".join(known)).split(",") if s.strip()]
    if args.corral_base and "corral-base" not in names:
        names.append("corral-base")
    for n in names:
        if n not in known + ["corral-base"]:
            sys.exit(f"unknown server {n}")
        if n == "corral-base" and not (args.corral_base and os.access(args.corral_base, os.X_OK)):
            sys.exit("corral-base needs --corral-base PATH to an executable")
    backends = [b.strip() for b in args.backend.split(",") if b.strip()]
    for b in backends:
        if b not in ("epoll", "uring"):
            sys.exit(f"unknown backend {b} (choose from epoll, uring)")
    for base in ("corral", "corral-async", "corral-sync"):  # one server per backend: NAME (epoll), NAME-uring
        if base in names:
            at = names.index(base)
            names[at:at + 1] = [base if b == "epoll" else f"{base}-{b}" for b in backends]
    if max(conns) + 64 > nofile[0]:
        sys.exit(f"RLIMIT_NOFILE {nofile[0]} too low for {max(conns)} connections")

    skipped = {}
    corral = bindir = None
    corral_names = [n for n in names if n in ("corral", "corral-uring")]
    if corral_names:
        corral = bc.ensure_corral(args.corral, build=not args.no_build)
        for n in corral_names:
            if corral is None:
                skipped[n] = f"binary {args.corral} missing (build failed or --no-build)"
            elif not bc.cli_supports(corral, "serve", "--port"):
                skipped[n] = f"{corral} has no `serve` subcommand yet"
            elif n != "corral" and not bc.cli_supports(corral, "serve", "--backend"):
                skipped[n] = f"{corral} has no `serve --backend` yet"
    peers = {"nio-http": "nio-http", "hummingbird": "hummingbird-hello", "nio-hello": "nio-hello"}
    if any(n in names for n in peers):
        bindir = bc.ensure_peers(build=not args.no_build)
        for name, binary in peers.items():
            if name in names and not os.path.exists(os.path.join(bindir, binary)):
                skipped[name] = "Benchmarks/Peers not built (swift build -c release --package-path Benchmarks/Peers)"
    hello_names = [n for n in names if n.startswith(("corral-async", "corral-sync"))]
    if hello_names and not os.access(args.hello_binary, os.X_OK):
        if not args.no_build:
            bc.log("building Examples' hello: swift build -c release --package-path Examples --product hello")
            subprocess.run(["swift", "build", "-c", "release", "--package-path", os.path.join(bc.REPO_ROOT, "Examples"),
                            "--product", "hello"])
        if not os.access(args.hello_binary, os.X_OK):
            for name in hello_names:
                skipped[name] = f"{args.hello_binary} missing (swift build -c release --package-path Examples --product hello)"
    for name, why in skipped.items():
        bc.log(f"*** SKIPPING {name}: {why}")
    active = [n for n in names if n not in skipped]

    root = make_root(["index.html"] if args.hello else files)
    file_sizes = {f: os.path.getsize(os.path.join(root, f or "index.html")) for f in files}
    logdir = tempfile.mkdtemp(prefix="corral-http-logs-")
    servers, check_problems = {}, {}
    for name in active:
        srv = make_server(name, root, args, corral, bindir, logdir)
        if not srv.start():
            skipped[name] = "did not start: " + open(srv.logpath, errors="replace").read()[-500:]
            bc.log(f"*** SKIPPING {name}: {skipped[name]}")
            continue
        problems = check_server(srv.port, root, files)
        if problems:
            bc.log(f"*** WARNING {name} answers wrongly: {'; '.join(problems)}")
            check_problems[name] = problems
        servers[name] = srv
        bc.log(f"started {name}: {' '.join(srv.command)} (pids charged: {srv.pids()})")
    active = [n for n in active if n in servers]
    if not active:
        sys.exit("no server to measure")
    bc.log(f"root {root}; logs {logdir}; rounds={args.rounds} duration={args.duration:g}s "
           f"files={','.join(files)} conns={','.join(map(str, conns))} servers={','.join(active)}; "
           f"server CPU {SERVER_CPU}, wrk CPU {CLIENT_CPU}; RLIMIT_NOFILE {nofile[0]}")

    runs = []
    try:
        for rnd in range(args.rounds):
            order = active[rnd % len(active):] + active[:rnd % len(active)]
            for fname in files:
                for c in conns:
                    for name in order:
                        srv = servers[name]
                        if srv.proc.poll() is not None:
                            runs.append({"round": rnd, "server": name, "file": fname, "conns": c,
                                         "error": f"server exited with {srv.proc.returncode}"})
                            continue
                        if args.warmup > 0:
                            subprocess.run(wrk_argv(srv.port, fname, c, args.warmup, latency=False, close=args.connection_close),
                                           capture_output=True, timeout=args.warmup + 60)
                        argv = wrk_argv(srv.port, fname, c, args.duration, close=args.connection_close)
                        pids = srv.pids()
                        u0, k0 = srv.cpu_split()
                        c0 = bc.cpu_times()
                        try:
                            r = subprocess.run(argv, capture_output=True, text=True, timeout=args.duration + 60)
                            out = r.stdout + r.stderr
                        except subprocess.TimeoutExpired:
                            out = ""
                        c1 = bc.cpu_times()
                        u1, k1 = srv.cpu_split()
                        ticks = (u1 - u0) + (k1 - k0)
                        busy = bc.cpu_busy(c0, c1)
                        run = {"round": rnd, "server": name, "file": fname, "conns": c, "wrk_command": argv,
                               "pids_charged": pids, "server_cpu_s": ticks / bc.CLK_TCK,
                               "server_user_share": (u1 - u0) / ticks if ticks else None,
                               "cpu0_busy": busy.get(f"cpu{CLIENT_CPU}"), "cpu1_busy": busy.get(f"cpu{SERVER_CPU}")}
                        run.update(parse_wrk(out))
                        if run.get("requests"):
                            run["us_per_req"] = ticks * 1e6 / bc.CLK_TCK / run["requests"]
                        else:
                            run["error"] = "no requests in wrk output"
                        run["wrk_output"] = out[-2500:]
                        runs.append(run)
                        bc.log(f"round {rnd} {fname:10} c={c:<5} {name:9} {bc.fmt_num(run.get('rps')):>9} req/s "
                               f"p50={bc.fmt_num(run.get('p50_ms'))} p99={bc.fmt_num(run.get('p99_ms'))} ms "
                               f"cpu={bc.fmt_num(run.get('us_per_req'))} µs/req user={bc.fmt_num(100 * (run['server_user_share'] or 0))}% "
                               f"errors={run.get('errors_total')} "
                               f"busy cpu1/cpu0={run['cpu1_busy']}/{run['cpu0_busy']}%")
    finally:
        exit_codes = {name: srv.stop() for name, srv in servers.items()}
        shutil.rmtree(root, ignore_errors=True)

    def paired(name, base, fname, c):
        """Ratios name / base, paired within each round: medians (min–max) of req/s, CPU µs/req, p99."""
        per = {"rps": [], "us_per_req": [], "p99_ms": []}
        for rnd in range(args.rounds):
            a = [r for r in runs if r["round"] == rnd and r["server"] == name and r["file"] == fname
                 and r["conns"] == c and "error" not in r]
            b = [r for r in runs if r["round"] == rnd and r["server"] == base and r["file"] == fname
                 and r["conns"] == c and "error" not in r]
            if a and b:
                for m in per:
                    if a[0].get(m) and b[0].get(m):
                        per[m].append(a[0][m] / b[0][m])
        return {m: bc.spread(v) for m, v in per.items()}

    # Ratios against nginx always; with --hello also against Hummingbird and Corral's static path
    # (the floors: async route vs Hummingbird and nginx, sync route vs the static path).
    bases = ["nginx"] + (["hummingbird", "corral"] if args.hello else [])
    summary, ratios, all_ratios = {}, {}, {}
    for fname in files:
        for c in conns:
            for name in active:
                sel = [r for r in runs if r["server"] == name and r["file"] == fname and r["conns"] == c
                       and "error" not in r]
                summary[f"{name}/{fname}/{c}"] = {m: bc.spread([r.get(m) for r in sel]) for m in METRICS}
            for base in bases:
                if base not in active:
                    continue
                for name in active:
                    if name == base:
                        continue
                    all_ratios.setdefault(base, {})[f"{name}/{fname}/{c}"] = paired(name, base, fname, c)
    ratios = all_ratios.get("nginx", {})

    print()
    print(f"wrk -t1 -c{{C}} -d{args.duration:g}s --latency, servers on CPU {SERVER_CPU}, wrk on CPU {CLIENT_CPU}; "
          f"median (min–max) of {args.rounds} round(s)")
    rows = []
    for fname in files:
        for c in conns:
            for name in active:
                s = summary[f"{name}/{fname}/{c}"]
                rows.append([fname or "/", c, name, bc.fmt_spread(s["rps"], 0), bc.fmt_spread(s["p50_ms"]),
                             bc.fmt_spread(s["p99_ms"]), bc.fmt_spread(s["errors_total"], 0),
                             bc.fmt_spread(s["us_per_req"], 2),
                             bc.fmt_num(s["server_user_share"] and 100 * s["server_user_share"]["median"], 0),
                             f"{bc.fmt_num(s['cpu1_busy'] and s['cpu1_busy']['median'], 0)}/"
                             f"{bc.fmt_num(s['cpu0_busy'] and s['cpu0_busy']['median'], 0)}",
                             s["rps"]["n"] if s["rps"] else 0])
    bc.print_table(["file", "conns", "server", "req/s", "p50 ms", "p99 ms", "errors", "CPU µs/req",
                    "user %", "busy% c1/c0", "n"], rows)
    for base, table in all_ratios.items():
        print()
        print(f"ratio X / {base}, paired per round, median (min–max): req/s (> 1 better), "
              "CPU µs/req (< 1 better), p99 (< 1 better)")
        rows = []
        for key, r in table.items():
            name, fname, c = key.split("/")
            rows.append([fname or "/", c, name, bc.fmt_spread(r["rps"], 3), bc.fmt_spread(r["us_per_req"], 3),
                         bc.fmt_spread(r["p99_ms"], 3)])
        bc.print_table(["file", "conns", "server", "req/s ratio", "CPU µs/req ratio", "p99 ratio"], rows)
    errs = [r for r in runs if r.get("errors_total")]
    for r in errs:
        print(f"NOTE: wrk errors for {r['server']} {r['file']} c={r['conns']} round {r['round']}: {r['errors']}")
    for name, why in skipped.items():
        print(f"NOTE: {name} was SKIPPED: {why}")
    for name, problems in check_problems.items():
        print(f"NOTE: {name} failed the pre-flight GET check: {'; '.join(problems)}")
    if exit_codes.get("corral") not in (None, 0):
        print(f"NOTE: corral exited {exit_codes['corral']} on SIGINT (expected 0)")

    doc = {
        "benchmark": "http hello" if args.hello else "http static files",
        "date": bc.now_iso(),
        "machine": bc.machine_info(),
        "tools": {"wrk": bc.tool_version(["wrk", "--version"]), "nginx": bc.tool_version(["nginx", "-v"])},
        "settings": {"rounds": args.rounds, "duration_s": args.duration, "warmup_s": args.warmup,
                     "files": file_sizes,
                     "conns": conns, "servers": active, "server_cpu": SERVER_CPU, "client_cpu": CLIENT_CPU,
                     "rlimit_nofile": nofile[0], "connection_close": args.connection_close, "nginx_conf": NGINX_CONF,
                     "server_commands": {n: s.command for n, s in servers.items()},
                     "cpu_us_per_req": "Δ(utime+stime) of the charged pids during the measured wrk run ÷ wrk requests",
                     "server_user_share": "Δutime ÷ Δ(utime+stime): the share of the server's CPU spent in user space"},
        "skipped": skipped,
        "check_problems": check_problems,
        "server_exit_codes": exit_codes,
        "summary": summary,
        "ratios_vs_nginx": ratios,
        "ratios": all_ratios,
        "runs": runs,
    }
    bc.write_json(args.json or bc.default_json_path("http"), doc)


if __name__ == "__main__":
    main()
