#!/usr/bin/env python3
"""Instructions per message of an echo or HTTP server, counted by callgrind: repeatable on a busy machine.

Wall-clock benchmarks need a quiet machine; instruction counts do not (the same binary, input and
environment give the same count whatever else runs). This is the figure to decide with while
others compile; the timing scripts (sockperf.py, http.py) confirm on a quiet machine.

For each SERVER (a name=command pair, `{port}` replaced), the script starts it under
`valgrind --tool=callgrind --instr-atstart=no`, warms it up with `corral bench rr`, switches
collection on (callgrind_control -i on), runs the measured load, switches it off, stops the
server and reads the totals. Instructions per message = Ir collected ÷ round trips the client
completed. The client runs natively (not under valgrind), pinned to another CPU when it can be.

    python3 Benchmarks/callgrind.py                                   # corral echo (callback), this tree
    python3 Benchmarks/callgrind.py --server base='/work/baseline/.build/release/corral echo --port {port} --loops 1' \\
        --server new='.build/release/corral echo --port {port} --loops 1'
    python3 Benchmarks/callgrind.py --connections 64 --seconds 5 --top 25
    python3 Benchmarks/callgrind.py --server callback='.build/release/corral echo --port {port} --loops 1' \
        --server async='.build/release/corral echo --port {port} --loops 1 --async' \
        --callers-of swift_task_switch --callers-of getPreferredTaskExecutor   # issue 9's async/callback pair
    python3 Benchmarks/callgrind.py --http /index.html \
        --server base='/work/baseline/.build/release/corral serve ROOT --port {port} --loops 1' \
        --server new='.build/release/corral serve ROOT --port {port} --loops 1'

With --sockperf the load is the real `sockperf ping-pong` client on one connection (a message is
one ping and its pong), for servers that speak sockperf's framing (`corral echo --sockperf`, `sockperf sr`).

With --http PATH the load is `corral bench http` GETs of PATH (a message is one request and its
response); the server is then an HTTP server serving PATH. The command `@nginx-hello` is nginx's
`return 200 "Hello, world\n"` configured as http.py --hello configures it, in one process:

    python3 Benchmarks/callgrind.py --http / --connections 16 --seconds 3 --server nginx=@nginx-hello \
        --server sync='Examples/.build/release/hello --port {port} --loops 1 --sync'

Prints, per server: Ir per message, the functions with the most self instructions, the calls to
swift_beginAccess (dynamic exclusivity checks) per message, and heap allocations per message
(calls to malloc, calloc, realloc, posix_memalign and aligned_alloc from outside the allocator,
during the measured load only). Writes JSON with --json.
"""
import argparse
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchcommon as bc  # noqa: E402


NGINX_HELLO = "@nginx-hello"


def nginx_hello_argv(port):
    """nginx answering GET / with `return 200 "Hello, world\\n"` as http.py configures it (one
    worker, the same http block), but as one process (master_process off) so that valgrind
    follows the process that serves."""
    spec = importlib.util.spec_from_file_location("corral_http_bench", os.path.join(os.path.dirname(__file__), "http.py"))
    http_bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(http_bench)
    prefix = tempfile.mkdtemp(prefix="corral-nginx-callgrind-")
    conf = http_bench.NGINX_CONF.replace("master_process on;", "master_process off;").replace(
        "worker_cpu_affinity {mask};\n", "")
    location = 'location = / { default_type text/plain; return 200 "Hello, world\\n"; }'
    path = os.path.join(prefix, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf.format(prefix=prefix, port=port, root=prefix, location=location,
                            nofile=4096))  # with the process's limit (20 000 here) nginx under valgrind did not exit on SIGINT
    return [shutil.which("nginx") or "/usr/sbin/nginx", "-p", prefix, "-c", path]


def run_one(name, command, args, client):
    port = bc.free_port()
    out = tempfile.NamedTemporaryFile(prefix=f"callgrind-{name}-", suffix=".out", delete=False).name
    argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
    if args.cache_sim:
        argv += ["--cache-sim=yes", f"--LL={args.cache_sim}"]
    server_argv = nginx_hello_argv(port) if command == NGINX_HELLO else shlex.split(command.format(port=port))
    # valgrind 3.19 cannot read the DWARF 5 that Swift 6 emits ("Possibly corrupted debuginfo
    # file"): run a copy without debug info (symbols stay, so functions are still named).
    stripped = tempfile.NamedTemporaryFile(prefix=f"{name}-", delete=False).name
    subprocess.run(["objcopy", "--strip-debug", server_argv[0], stripped], check=True)
    os.chmod(stripped, 0o755)
    argv += [stripped] + server_argv[1:]
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        if not bc.wait_listening(server, port, timeout=120):
            raise SystemExit(f"{name}: the server did not start: {server.stdout.read() if server.poll() is not None else ''}")
        target = f"127.0.0.1:{port}"
        if args.sockperf:
            def load(seconds):
                # One connection; every message asks for a pong. Its "[Total Run]" line counts
                # the answers, warm-up included, which is what the server handled.
                out = subprocess.run(["sockperf", "ping-pong", "--tcp", "-i", "127.0.0.1", "-p", str(port),
                                      "-m", str(args.size), "-t", str(max(1, round(seconds)))],
                                     check=True, capture_output=True, text=True).stdout
                return int(re.search(r"\[Total Run\].*ReceivedMessages=(\d+)", out).group(1))
        else:
            if args.http:
                rr = [client, "bench", "http", f"http://{target}{args.http}", "-c", str(args.connections)]
            else:
                rr = [client, "bench", "rr", target, "-c", str(args.connections), "--size", str(args.size)]

            def load(seconds):
                with tempfile.NamedTemporaryFile(suffix=".json") as result:
                    subprocess.run(rr + ["-d", str(seconds), "--json", result.name], check=True, capture_output=True)
                    return json.load(open(result.name))["requests"]
        load(args.warmup)
        subprocess.run(["callgrind_control", "-i", "on", str(server.pid)], check=True, capture_output=True)
        messages = load(args.seconds)
        subprocess.run(["callgrind_control", "-i", "off", str(server.pid)], check=True, capture_output=True)
    finally:
        server.send_signal(2)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    annotate = subprocess.run(["callgrind_annotate", "--inclusive=no", "--show=Ir", out],
                              capture_output=True, text=True).stdout
    totals = event_totals(out)
    total = totals.get("Ir", 0)
    functions = []
    for line in annotate.splitlines():
        fm = re.match(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$", line)
        if fm and "PROGRAM TOTALS" not in line:
            functions.append((int(fm.group(1).replace(",", "")), fm.group(2).strip()))
    misses = {event: n for event, n in totals.items() if event.endswith(("mr", "mw"))}
    access_callers = calls_by_caller(out, "swift_beginAccess")
    other_callers = {sym: calls_by_caller(out, sym) for sym in args.callers_of}
    access_calls = sum(access_callers.values())
    allocations = 0
    for symbol in ("malloc", "calloc", "realloc", "posix_memalign", "aligned_alloc"):
        allocations += sum(n for caller, n in calls_by_caller(out, symbol).items()
                           if not any(word in (caller or "") for word in ("malloc", "calloc", "realloc", "memalign", "aligned_alloc")))
    if args.keep:
        print(f"   {name}: callgrind output kept in {out} (binary {stripped})", file=sys.stderr)
    else:
        os.unlink(out)
        os.unlink(stripped)
    return {
        "name": name, "command": command, "messages": messages, "instructions": total,
        "instructions_per_message": total / messages if messages else None,
        "begin_access_calls_per_message": access_calls / messages if messages else None,
        "cache_misses_per_message": {event: n / messages for event, n in misses.items()} if messages else {},
        "allocations_per_message": allocations / messages if messages else None,
        "callers": {sym: {fn: n / messages for fn, n in sorted(c.items(), key=lambda kv: -kv[1])}
                    for sym, c in other_callers.items()} if messages else {},
        "begin_access_callers": {fn: n / messages for fn, n in sorted(access_callers.items(), key=lambda kv: -kv[1])} if messages else {},
        "top_functions": [{"instructions_per_message": ir / messages, "function": fn} for ir, fn in functions[:args.top]],
    }


def event_totals(out):
    """The totals of a callgrind output file per event: Ir, and with --cache-sim the misses
    (I1mr, D1mr, D1mw: first level; ILmr, DLmr, DLmw: last level)."""
    events, totals = [], []
    for line in open(out, errors="replace"):
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith(("summary:", "totals:")):
            totals = [int(n) for n in line.split()[1:]]
    return dict(zip(events, totals))


def calls_by_caller(out, symbol):
    """Calls to `symbol` recorded in a callgrind output file, per calling function.

    The format names a function once as `fn=(ID) NAME` (or `cfn=`) and later by `(ID)` alone;
    a `calls=N ...` line after `cfn=` counts the calls the current `fn` made to it."""
    names = {}
    callers = {}
    current_fn = None
    current_callee = None
    for line in open(out, errors="replace"):
        m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if m:
            kind, ident, name = m.groups()
            if name:
                names[ident] = name
            if kind == "fn":
                current_fn, current_callee = ident, None
            else:
                current_callee = ident
            continue
        if line.startswith("calls=") and current_callee is not None:
            if symbol in names.get(current_callee, ""):
                caller = names.get(current_fn, current_fn)
                callers[caller] = callers.get(caller, 0) + int(line.split("=")[1].split()[0])
            current_callee = None
    return callers


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", action="append", default=[],
                    help="NAME=COMMAND with {port} (default: this tree's corral echo, callback)")
    ap.add_argument("--client", default=os.path.join(bc.REPO_ROOT, ".build/release/corral"),
                    help="the corral binary whose `bench rr` drives the load")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--http", metavar="PATH", help="drive HTTP GETs of PATH instead of echo round trips")
    ap.add_argument("--sockperf", action="store_true",
                    help="drive `sockperf ping-pong --tcp -m SIZE` (one connection) instead of `corral bench rr`: "
                         "the server must speak sockperf's framing (corral echo --sockperf)")
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--cache-sim", metavar="SIZE,ASSOC,LINE",
                    help="also simulate the caches, the last level as SIZE,ASSOC,LINE (e.g. 1048576,8,64: this "
                         "machine's per-core L2), and print misses per message: cache behaviour is repeatable too")
    ap.add_argument("--callers-of", action="append", default=[], metavar="SYMBOL",
                    help="also list the callers of SYMBOL (calls per message), e.g. swift_task_switch")
    ap.add_argument("--json")
    ap.add_argument("--keep", action="store_true",
                    help="keep each server's callgrind output (for callgrind_annotate --inclusive=yes --tree=...)")
    args = ap.parse_args()
    servers = args.server or [f"corral=.build/release/corral echo --port {{port}} --loops 1"]
    results = []
    for spec in servers:
        name, _, command = spec.partition("=")
        bc.log(f"== {name}: {command}")
        r = run_one(name, command, args, args.client)
        results.append(r)
        bc.log(f"   {r['messages']} messages, {r['instructions_per_message']:.0f} instructions per message, "
               f"{r['begin_access_calls_per_message']:.2f} swift_beginAccess calls per message, "
               f"{r['allocations_per_message']:.3f} heap allocations per message")
        if r["cache_misses_per_message"]:
            bc.log("   cache misses per message: " + ", ".join(
                f"{event} {n:.1f}" for event, n in r["cache_misses_per_message"].items()))
        for f in r["top_functions"]:
            bc.log(f"   {f['instructions_per_message']:9.1f}  {f['function'][:150]}")
        for sym, callers in r["callers"].items():
            bc.log(f"   calls to {sym} per message, by caller:")
            for fn, n in list(callers.items())[:max(args.top, 10)]:
                bc.log(f"   {n:9.2f}  {fn[:150]}")
        if r["begin_access_callers"]:
            bc.log("   swift_beginAccess calls per message, by caller:")
            for fn, n in list(r["begin_access_callers"].items())[:args.top]:
                bc.log(f"   {n:9.2f}  {fn[:150]}")
    if len(results) > 1:
        base = results[0]["instructions_per_message"]
        bc.log("== ratios to " + results[0]["name"])
        for r in results:
            bc.log(f"   {r['name']:<16} {r['instructions_per_message'] / base:.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"schema": "corral.callgrind/1", "settings": vars(args), "machine": bc.machine_info(),
                       "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
