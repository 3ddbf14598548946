"""Shared helpers for the side-by-side benchmark scripts (sockperf.py, http.py).

Nothing here measures anything by itself: process start/stop with CPU pinning,
/proc CPU accounting, medians with spread, machine facts and JSON output.
"""
import datetime
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(msg, flush=True)


def ensure_apt(packages):
    """Install Debian packages whose command is missing. packages: {command: package}."""
    missing = [pkg for cmd, pkg in packages.items() if shutil.which(cmd) is None]
    if not missing:
        return
    log(f"installing {' '.join(missing)} with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env)


def raise_nofile(target=65536):
    """Raise RLIMIT_NOFILE (soft, and hard if allowed) so 1000 connections fit; children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, target)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
    except (ValueError, PermissionError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def ensure_corral(path, build):
    """Return the corral binary path, building the root package in release if asked and missing."""
    if os.path.exists(path):
        return path
    if build:
        log(f"corral binary {path} missing: running `swift build -c release` in {REPO_ROOT}")
        r = subprocess.run(["swift", "build", "-c", "release", "--product", "corral"], cwd=REPO_ROOT)
        if r.returncode == 0 and os.path.exists(path):
            return path
        log("corral build failed")
    return None


def ensure_peers(build):
    """Return the Peers package's release bin dir, building it once if asked and missing."""
    pkg = os.path.join(BENCH_DIR, "Peers")
    bindir = os.path.join(pkg, ".build", "release")
    if all(os.path.exists(os.path.join(bindir, n)) for n in ("nio-echo", "nio-http", "nio-hello", "hummingbird-hello")):
        return bindir
    if build:
        log("building the SwiftNIO and Hummingbird peers: swift build -c release --package-path Benchmarks/Peers")
        subprocess.run(["swift", "build", "-c", "release", "--package-path", pkg])
    return bindir


def cli_supports(binary, subcommand, flag):
    """True if `binary subcommand --help` mentions flag (so a missing feature is skipped, not crashed on)."""
    try:
        r = subprocess.run([binary, subcommand, "--help"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0 and flag in (r.stdout + r.stderr)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_listening(proc, port, timeout=20.0):
    """Wait until something accepts on 127.0.0.1:port; False if the process died or time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Server:
    """A server process pinned with taskset; output goes to a log file."""

    def __init__(self, name, argv, port, cpu, logpath, cwd=None):
        self.name, self.argv, self.port, self.cpu, self.logpath = name, argv, port, cpu, logpath
        self.cwd = cwd
        self.proc = None
        self.exit_code = None

    @property
    def command(self):
        return ["taskset", "-c", str(self.cpu), *self.argv]

    def start(self, timeout=20.0):
        self.logfile = open(self.logpath, "ab")
        self.proc = subprocess.Popen(self.command, stdout=self.logfile, stderr=subprocess.STDOUT,
                                     cwd=self.cwd, start_new_session=True)
        if not wait_listening(self.proc, self.port, timeout):
            self.stop()
            return False
        return True

    def pids(self):
        """PIDs whose CPU is charged to this server (default: the process itself, all its threads)."""
        return [self.proc.pid]

    def cpu_ticks(self):
        return sum(proc_cpu_ticks(p) for p in self.pids())

    def cpu_split(self):
        """(utime, stime) clock ticks of the charged pids: user space against the kernel."""
        splits = [proc_cpu_split(p) for p in self.pids()]
        return sum(u for u, _ in splits), sum(k for _, k in splits)

    def stop(self, grace=5.0):
        """SIGINT, then SIGTERM, then SIGKILL; records the exit code (corral must exit 0 on SIGINT)."""
        if self.proc is None:
            return None
        for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0)):
            if self.proc.poll() is not None:
                break
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
        self.exit_code = self.proc.poll()
        self.logfile.close()
        return self.exit_code


def proc_cpu_ticks(pid):
    """utime+stime (clock ticks) of a whole process (all threads) from /proc/PID/stat."""
    return sum(proc_cpu_split(pid))


def proc_cpu_split(pid):
    """(utime, stime) clock ticks of a whole process (all threads) from /proc/PID/stat."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return 0, 0
    fields = data[data.rindex(")") + 2:].split()
    return int(fields[11]), int(fields[12])  # fields 14 and 15 of stat(5)


def children(pid):
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def cpu_times():
    """{cpuN: (busy, total)} jiffies from /proc/stat."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                parts = line.split()
                vals = [int(x) for x in parts[1:]]
                idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
                total = sum(vals[:8])
                out[parts[0]] = (total - idle, total)
    return out


def cpu_busy(before, after):
    """{cpuN: busy %} between two cpu_times() snapshots."""
    res = {}
    for k in after:
        db = after[k][0] - before.get(k, (0, 0))[0]
        dt = after[k][1] - before.get(k, (0, 0))[1]
        res[k] = round(100.0 * db / dt, 1) if dt > 0 else None
    return res


def spread(values):
    """{median, min, max, n} of the non-None values, or None."""
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def fmt_num(v, digits=None):
    if v is None:
        return "-"
    if digits is None:
        a = abs(v)
        digits = 0 if a >= 1000 else 1 if a >= 100 else 2 if a >= 10 else 3
    return f"{v:,.{digits}f}".replace(",", " ")


def fmt_spread(s, digits=None):
    if s is None:
        return "-"
    if s["n"] == 1:
        return fmt_num(s["median"], digits)
    return f"{fmt_num(s['median'], digits)} ({fmt_num(s['min'], digits)}–{fmt_num(s['max'], digits)})"


def print_table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(headers)]
    line = "  ".join(str(h).ljust(w) for h, w in zip(headers, widths))
    print(line)
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    sys.stdout.flush()


def machine_info():
    info = {"kernel": platform.release(), "nproc": os.cpu_count(), "python": platform.python_version()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/loadavg") as f:
            info["loadavg_at_start"] = f.read().split()[:3]
    except OSError:
        pass
    return info


def tool_version(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        out = (r.stdout + r.stderr).strip().splitlines()
        return out[0] if out else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def default_json_path(prefix):
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return os.path.join(BENCH_DIR, "results", f"{prefix}-{stamp}.json")


def write_json(path, doc):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(doc, f, indent=2, sort_keys=False)
        f.write("\n")
    log(f"wrote {path}")


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
