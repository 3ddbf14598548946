#if canImport(Glibc)
import Glibc
#endif

/// What the probes say about one process at one instant.
public struct ProcessProbe: Sendable, Equatable {
    /// The process id.
    public var pid: Int32
    /// User and kernel CPU time in ticks (`/proc/PID/stat`).
    public var cpuTicks: UInt64
    /// Context switches summed over live threads (`/proc/PID/task/*/status`).
    public var contextSwitches: ContextSwitches
    /// Resident set size in bytes.
    public var rssBytes: UInt64
    /// Number of threads.
    public var threadCount: Int

    /// Build a probe directly.
    public init(pid: Int32, cpuTicks: UInt64, contextSwitches: ContextSwitches, rssBytes: UInt64, threadCount: Int) {
        self.pid = pid
        self.cpuTicks = cpuTicks
        self.contextSwitches = contextSwitches
        self.rssBytes = rssBytes
        self.threadCount = threadCount
    }

    /// Read every probe for `pid`; `nil` if the process is gone.
    public static func read(pid: Int32) -> ProcessProbe? {
        guard let stat = ProcessStat.read(pid: pid) else { return nil }
        return ProcessProbe(pid: pid, cpuTicks: stat.totalTicks,
                            contextSwitches: ContextSwitches.readProcess(pid: pid) ?? ContextSwitches(),
                            rssBytes: MemoryUsage.rssBytes(pid: pid) ?? 0, threadCount: stat.threadCount)
    }
}

/// All probes at once: system CPU, TCP counters and per-process figures for a set of PIDs,
/// stamped with a monotonic time.
///
/// Experiments take one snapshot before and one after the measured interval and
/// subtract them (``ProbeDelta``), so every figure covers the same interval.
public struct ProbeSnapshot: Sendable {
    /// `CLOCK_MONOTONIC` time of the snapshot in nanoseconds.
    public var monotonicNanoseconds: UInt64
    /// System-wide CPU counters (`nil` if `/proc/stat` could not be read).
    public var cpu: CPUSample?
    /// TCP counters of this network namespace.
    public var tcp: TCPCounters?
    /// Per-process probes keyed by PID (processes already gone are absent).
    public var processes: [Int32: ProcessProbe]

    /// Build a snapshot directly (tests, replay).
    public init(monotonicNanoseconds: UInt64, cpu: CPUSample?, tcp: TCPCounters?, processes: [Int32: ProcessProbe]) {
        self.monotonicNanoseconds = monotonicNanoseconds
        self.cpu = cpu
        self.tcp = tcp
        self.processes = processes
    }

    /// Take a snapshot now for `pids` (defaults to the calling process).
    public static func take(pids: [Int32] = [getpid()]) -> ProbeSnapshot {
        var processes: [Int32: ProcessProbe] = [:]
        for pid in pids { processes[pid] = ProcessProbe.read(pid: pid) }
        return ProbeSnapshot(monotonicNanoseconds: monotonicNow(), cpu: CPUSample.read(), tcp: TCPCounters.read(),
                             processes: processes)
    }

    /// `CLOCK_MONOTONIC` in nanoseconds.
    public static func monotonicNow() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// The change from `earlier` to `self`.
    public static func - (later: ProbeSnapshot, earlier: ProbeSnapshot) -> ProbeDelta {
        var per: [Int32: ProcessDelta] = [:]
        for (pid, p) in later.processes {
            guard let e = earlier.processes[pid] else { continue }
            per[pid] = ProcessDelta(
                pid: pid,
                cpuSeconds: Double(p.cpuTicks &- min(p.cpuTicks, e.cpuTicks)) / Double(ClockTicks.perSecond),
                contextSwitches: p.contextSwitches - e.contextSwitches,
                rssBytes: p.rssBytes, rssGrowthBytes: Int64(p.rssBytes) - Int64(e.rssBytes))
        }
        var cpu: CPUUtilisation?
        if let l = later.cpu, let e = earlier.cpu { cpu = l - e }
        var tcp: TCPCounters?
        if let l = later.tcp, let e = earlier.tcp { tcp = l - e }
        let ns = later.monotonicNanoseconds &- min(later.monotonicNanoseconds, earlier.monotonicNanoseconds)
        return ProbeDelta(seconds: Double(ns) / 1e9, cpu: cpu, tcp: tcp, processes: per)
    }
}

/// The change of one process's probes over an interval.
public struct ProcessDelta: Sendable, Equatable {
    /// The process id.
    public var pid: Int32
    /// CPU seconds (user + kernel) spent in the interval (tick resolution, usually 10 ms).
    public var cpuSeconds: Double
    /// Context switches in the interval (live threads only).
    public var contextSwitches: ContextSwitches
    /// RSS at the end of the interval in bytes.
    public var rssBytes: UInt64
    /// RSS growth over the interval in bytes (may be negative).
    public var rssGrowthBytes: Int64

    /// Build a delta directly.
    public init(pid: Int32, cpuSeconds: Double, contextSwitches: ContextSwitches, rssBytes: UInt64, rssGrowthBytes: Int64) {
        self.pid = pid
        self.cpuSeconds = cpuSeconds
        self.contextSwitches = contextSwitches
        self.rssBytes = rssBytes
        self.rssGrowthBytes = rssGrowthBytes
    }
}

/// The difference of two ``ProbeSnapshot``s: everything that happened in one interval.
public struct ProbeDelta: Sendable, Equatable {
    /// Length of the interval in seconds.
    public var seconds: Double
    /// System CPU utilisation over the interval.
    public var cpu: CPUUtilisation?
    /// TCP segments sent and received in the interval.
    public var tcp: TCPCounters?
    /// Per-process changes, for processes present in both snapshots.
    public var processes: [Int32: ProcessDelta]

    /// Build a delta directly.
    public init(seconds: Double, cpu: CPUUtilisation?, tcp: TCPCounters?, processes: [Int32: ProcessDelta]) {
        self.seconds = seconds
        self.cpu = cpu
        self.tcp = tcp
        self.processes = processes
    }

    /// CPU seconds summed over all processes.
    public var totalCPUSeconds: Double { processes.values.reduce(0) { $0 + $1.cpuSeconds } }

    /// Context switches summed over all processes.
    public var totalContextSwitches: ContextSwitches {
        processes.values.reduce(ContextSwitches()) { $0 + $1.contextSwitches }
    }

    /// RSS summed over all processes at the end of the interval, in bytes.
    public var totalRSSBytes: UInt64 { processes.values.reduce(0) { $0 + $1.rssBytes } }

    /// Common figures ready to merge into a run's result: `seconds`, `cpu_busy_fraction`,
    /// `cpu_busy_cores`, `proc_cpu_seconds`, `ctx_voluntary`, `ctx_involuntary`,
    /// `tcp_out_segs`, `tcp_in_segs`, `tcp_retrans_segs`, `tcp_delayed_acks`, `rss_bytes`.
    public func figures(prefix: String = "") -> [String: Double] {
        var f: [String: Double] = [prefix + "seconds": seconds]
        if let cpu {
            f[prefix + "cpu_busy_fraction"] = cpu.busyFraction
            f[prefix + "cpu_busy_cores"] = cpu.busyCores
        }
        if !processes.isEmpty {
            f[prefix + "proc_cpu_seconds"] = totalCPUSeconds
            f[prefix + "ctx_voluntary"] = Double(totalContextSwitches.voluntary)
            f[prefix + "ctx_involuntary"] = Double(totalContextSwitches.involuntary)
            f[prefix + "rss_bytes"] = Double(totalRSSBytes)
        }
        if let tcp {
            f[prefix + "tcp_out_segs"] = Double(tcp.outSegments)
            f[prefix + "tcp_in_segs"] = Double(tcp.inSegments)
            f[prefix + "tcp_retrans_segs"] = Double(tcp.retransmittedSegments)
            f[prefix + "tcp_delayed_acks"] = Double(tcp.delayedACKs)
        }
        return f
    }
}
