#!/usr/bin/env python3
"""Loopback TCP request/response latency: sockperf's own server vs corral echo vs SwiftNIO.

One session, rounds interleaved. For each round, each placement (same CPU: server and client
both `taskset -c 0`; cross CPU: server on 1, client on 0) and each server (order rotated per
round), a fresh server is started and measured with

    sockperf ping-pong --tcp -i 127.0.0.1 -p PORT -m 64 -t T

Servers: `sockperf sr --tcp` (the reference), `corral echo --sockperf --loops 1` and
`nio-echo PORT 1 --sockperf` (Benchmarks/Peers). sockperf reports latency as RTT/2 (µs).
Also recorded: server CPU µs per message, (utime+stime of the server) ÷ messages received
by the client over the whole run (warm-up included).

Prints medians (min–max) and the ratios X / sockperf-sr per placement, paired within each
round; writes everything, raw sockperf summaries included, to JSON.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchcommon as bc  # noqa: E402

PLACEMENTS = {"same": (0, 0), "cross": (1, 0)}  # name: (server cpu, client cpu)
BACKENDS = ["epoll", "uring"]  # corral's --backend; the first is what a name without a suffix runs
METRICS = ["avg", "p50", "p99", "p99.9", "max", "srv_us_per_msg"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def parse_sockperf(text):
    """Pull the summary figures out of `sockperf ping-pong` output (latency in µs, RTT/2)."""
    text = ANSI.sub("", text)
    res = {}
    m = re.search(r"avg-latency=([\d.]+) \(std-dev=([\d.]+)", text)
    if m:
        res["avg"], res["std_dev"] = float(m.group(1)), float(m.group(2))
    for key, pct in (("p25", "25.000"), ("p50", "50.000"), ("p90", "90.000"), ("p99", "99.000"),
                     ("p99.9", "99.900"), ("p99.99", "99.990")):
        m = re.search(r"percentile " + re.escape(pct) + r" =\s*([\d.]+)", text)
        if m:
            res[key] = float(m.group(1))
    m = re.search(r"<MAX> observation =\s*([\d.]+)", text)
    if m:
        res["max"] = float(m.group(1))
    m = re.search(r"<MIN> observation =\s*([\d.]+)", text)
    if m:
        res["min"] = float(m.group(1))
    m = re.search(r"\[Total Run\].*SentMessages=(\d+); ReceivedMessages=(\d+)", text)
    if m:
        res["total_sent"], res["total_received"] = int(m.group(1)), int(m.group(2))
    m = re.search(r"\[Valid Duration\] RunTime=([\d.]+) sec; SentMessages=(\d+); ReceivedMessages=(\d+)", text)
    if m:
        res["valid_runtime_s"] = float(m.group(1))
        res["observations"] = int(m.group(3))
    m = re.search(r"# dropped messages = (\d+); # duplicated messages = (\d+); # out-of-order messages = (\d+)", text)
    if m:
        res["dropped"], res["duplicated"], res["out_of_order"] = (int(m.group(i)) for i in (1, 2, 3))
    return res


def split_backend(name):
    """`corral-uring` -> (`corral`, ["--backend", "uring"]); names without a backend suffix run epoll."""
    for backend in BACKENDS[1:]:
        if name.endswith("-" + backend):
            return name[: -len(backend) - 1], ["--backend", backend]
    return name, []


def server_argv(name, port, args, corral, bindir):
    name, backend_args = split_backend(name)
    if name.startswith("corral"):
        return corral_argv(name, port, args, corral) + backend_args
    if name == "sockperf-sr":
        return ["sockperf", "sr", "--tcp", "-i", "127.0.0.1", "-p", str(port)]
    if name == "nio-echo":
        return [os.path.join(bindir, "nio-echo"), str(port), "1", "--sockperf"]
    raise ValueError(name)


def corral_argv(name, port, args, corral):
    if name in ("corral", "corral-base"):
        binary = corral if name == "corral" else args.corral_base
        argv = [binary, "echo", "--host", "127.0.0.1", "--port", str(port), "--loops", "1", "--sockperf"]
        if args.corral_accept:
            argv += ["--accept", args.corral_accept]
        return argv
    if name == "corral-async":
        argv = [corral, "echo", "--host", "127.0.0.1", "--port", str(port), "--loops", "1", "--sockperf", "--async"]
        if args.corral_accept:
            argv += ["--accept", args.corral_accept]
        return argv
    raise ValueError(name)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    ap.add_argument("--duration", "-t", type=float, default=5, help="sockperf -t seconds per run (default 5)")
    ap.add_argument("--msg-size", "-m", type=int, default=64, help="sockperf -m bytes (default 64)")
    ap.add_argument("--servers", default="sockperf-sr,corral,nio-echo",  # also: corral-async
                    help="comma list of sockperf-sr, corral, nio-echo (default: all)")
    ap.add_argument("--placements", default="same,cross", help="comma list of same, cross (default both)")
    ap.add_argument("--corral", default=os.path.join(bc.REPO_ROOT, ".build", "release", "corral"),
                    help="corral binary (default .build/release/corral; built if missing)")
    ap.add_argument("--corral-accept", default=None, help="pass --accept STRATEGY to corral echo")
    ap.add_argument("--corral-base", default=None, metavar="PATH",
                    help="also measure this corral binary's `echo --sockperf` as 'corral-base' (epoll; e.g. a build "
                         "of an earlier commit, for a same-run before/after)")
    ap.add_argument("--backend", default="epoll",
                    help="comma list of corral backends (epoll, uring); each corral server runs once per backend, "
                         "as corral (epoll) and corral-uring (default epoll)")
    ap.add_argument("--no-build", action="store_true", help="never run swift build; skip what is missing")
    ap.add_argument("--json", default=None, help="output JSON (default Benchmarks/results/sockperf-DATE.json)")
    args = ap.parse_args()

    bc.ensure_apt({"sockperf": "sockperf"})
    names = [s.strip() for s in args.servers.split(",") if s.strip()]
    backends = [b.strip() for b in args.backend.split(",") if b.strip()]
    for b in backends:
        if b not in BACKENDS:
            sys.exit(f"unknown backend {b} (choose from {', '.join(BACKENDS)})")
    names = [n if b == "epoll" or not n.startswith("corral") else f"{n}-{b}"
             for n in names for b in (backends if n.startswith("corral") else ["epoll"])]
    if args.corral_base:
        if not os.access(args.corral_base, os.X_OK):
            sys.exit("--corral-base needs a path to an executable")
        names.append("corral-base")
    placements = [p.strip() for p in args.placements.split(",") if p.strip()]
    for p in placements:
        if p not in PLACEMENTS:
            sys.exit(f"unknown placement {p}")

    skipped = {}
    corral = None
    if any(n.startswith("corral") for n in names):
        corral = bc.ensure_corral(args.corral, build=not args.no_build)
        if corral is None:
            skipped["corral"] = f"binary {args.corral} missing (build failed or --no-build)"
        elif not bc.cli_supports(corral, "echo", "--sockperf"):
            skipped["corral"] = f"{corral} has no `echo --sockperf` yet"
        if "corral-async" in names and corral and not bc.cli_supports(corral, "echo", "--async"):
            skipped["corral-async"] = f"{corral} has no `echo --async` yet"
        for n in names:
            base, backend_args = split_backend(n)
            if base in skipped:
                skipped[n] = skipped[base]
            elif backend_args and corral and not bc.cli_supports(corral, "echo", "--backend"):
                skipped[n] = f"{corral} has no `echo --backend` yet"
    bindir = None
    if "nio-echo" in names:
        bindir = bc.ensure_peers(build=not args.no_build)
        if not os.path.exists(os.path.join(bindir, "nio-echo")):
            skipped["nio-echo"] = "Benchmarks/Peers not built (swift build -c release --package-path Benchmarks/Peers)"
    for name, why in skipped.items():
        bc.log(f"*** SKIPPING {name}: {why}")
    active = [n for n in names if n not in skipped]
    if not active:
        sys.exit("no server to measure")

    logdir = tempfile.mkdtemp(prefix="corral-sockperf-")
    bc.log(f"sockperf ping-pong --tcp -m {args.msg_size} -t {args.duration}; rounds={args.rounds}; "
           f"servers={','.join(active)}; placements={','.join(placements)}; logs in {logdir}")
    runs = []
    for rnd in range(args.rounds):
        order = active[rnd % len(active):] + active[:rnd % len(active)]
        for placement in placements:
            scpu, ccpu = PLACEMENTS[placement]
            for name in order:
                port = bc.free_port()
                srv = bc.Server(name, server_argv(name, port, args, corral, bindir), port, scpu,
                                os.path.join(logdir, f"{name}-r{rnd}-{placement}.log"))
                run = {"round": rnd, "placement": placement, "server": name, "server_cpu": scpu,
                       "client_cpu": ccpu, "server_command": srv.command}
                if not srv.start():
                    run["error"] = "server did not start (see log)"
                    run["server_log"] = open(srv.logpath, errors="replace").read()[-2000:]
                    bc.log(f"round {rnd} {placement:5} {name:12} FAILED to start")
                    runs.append(run)
                    continue
                time.sleep(0.2)
                client = ["taskset", "-c", str(ccpu), "sockperf", "ping-pong", "--tcp", "-i", "127.0.0.1",
                          "-p", str(port), "-m", str(args.msg_size), "-t", f"{args.duration:g}"]
                run["client_command"] = client
                t0 = srv.cpu_ticks()
                try:
                    r = subprocess.run(client, capture_output=True, text=True, timeout=args.duration + 60)
                    out = r.stdout + r.stderr
                except subprocess.TimeoutExpired as e:
                    out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
                    run["error"] = "sockperf client timed out"
                ticks = srv.cpu_ticks() - t0
                run["server_exit_code"] = srv.stop()
                fig = parse_sockperf(out)
                run.update(fig)
                run["server_cpu_s"] = ticks / bc.CLK_TCK
                if fig.get("total_received"):
                    run["srv_us_per_msg"] = ticks * 1e6 / bc.CLK_TCK / fig["total_received"]
                if "avg" not in fig and "error" not in run:
                    run["error"] = "no latency in sockperf output"
                run["sockperf_output"] = ANSI.sub("", out)[-3000:]
                runs.append(run)
                bc.log(f"round {rnd} {placement:5} {name:12} avg={bc.fmt_num(fig.get('avg'))} "
                       f"p50={bc.fmt_num(fig.get('p50'))} p99={bc.fmt_num(fig.get('p99'))} "
                       f"p99.9={bc.fmt_num(fig.get('p99.9'))} max={bc.fmt_num(fig.get('max'))} µs  "
                       f"srv={bc.fmt_num(run.get('srv_us_per_msg'))} µs/msg  exit={run['server_exit_code']}"
                       + (f"  ERROR: {run['error']}" if "error" in run else ""))

    # Summary: medians with min–max, and paired ratios vs sockperf-sr within each round.
    summary, ratios = {}, {}
    for placement in placements:
        for name in active:
            sel = [r for r in runs if r["placement"] == placement and r["server"] == name and "error" not in r]
            summary[f"{placement}/{name}"] = {m: bc.spread([r.get(m) for r in sel]) for m in METRICS}
        if "sockperf-sr" in active:
            for name in active:
                if name == "sockperf-sr":
                    continue
                per = {m: [] for m in METRICS}
                for rnd in range(args.rounds):
                    a = [r for r in runs if r["round"] == rnd and r["placement"] == placement
                         and r["server"] == name and "error" not in r]
                    b = [r for r in runs if r["round"] == rnd and r["placement"] == placement
                         and r["server"] == "sockperf-sr" and "error" not in r]
                    if a and b:
                        for m in METRICS:
                            if a[0].get(m) and b[0].get(m):
                                per[m].append(a[0][m] / b[0][m])
                ratios[f"{placement}/{name}:sockperf-sr"] = {m: bc.spread(v) for m, v in per.items()}

    print()
    print(f"sockperf ping-pong --tcp -m {args.msg_size} -t {args.duration:g}: latency µs (RTT/2), "
          f"median (min–max) of {args.rounds} round(s); srv = server CPU µs per message")
    rows = []
    for placement in placements:
        scpu, ccpu = PLACEMENTS[placement]
        for name in active:
            s = summary[f"{placement}/{name}"]
            rows.append([f"{placement} (srv {scpu}, cli {ccpu})", name] +
                        [bc.fmt_spread(s[m]) for m in METRICS] + [s["avg"]["n"] if s["avg"] else 0])
    bc.print_table(["placement", "server", "avg", "p50", "p99", "p99.9", "max", "srv µs/msg", "n"], rows)
    if ratios:
        print()
        print("ratio X / sockperf-sr, paired per round, median (min–max); < 1 is better than sockperf sr")
        rows = []
        for key, r in ratios.items():
            placement, rest = key.split("/", 1)
            rows.append([placement, rest.split(":")[0]] + [bc.fmt_spread(r[m], 3) for m in METRICS])
        bc.print_table(["placement", "server", "avg", "p50", "p99", "p99.9", "max", "srv µs/msg"], rows)
    for name, why in skipped.items():
        print(f"NOTE: {name} was SKIPPED: {why}")
    bad = [r for r in runs if r.get("server") == "corral" and r.get("server_exit_code") not in (0, None)]
    if bad:
        print(f"NOTE: corral exited non-zero on SIGINT in {len(bad)} run(s): "
              f"{sorted(set(r['server_exit_code'] for r in bad))}")

    doc = {
        "benchmark": "sockperf ping-pong",
        "date": bc.now_iso(),
        "machine": bc.machine_info(),
        "tools": {"sockperf": bc.tool_version(["sockperf", "--version"])},
        "settings": {"rounds": args.rounds, "duration_s": args.duration, "msg_size": args.msg_size,
                     "placements": {p: {"server_cpu": PLACEMENTS[p][0], "client_cpu": PLACEMENTS[p][1]}
                                    for p in placements},
                     "servers": active, "latency_unit": "µs, RTT/2 (sockperf default)"},
        "skipped": skipped,
        "summary": summary,
        "ratios_vs_sockperf_sr": ratios,
        "runs": runs,
    }
    bc.write_json(args.json or bc.default_json_path("sockperf"), doc)


if __name__ == "__main__":
    main()
