#if canImport(Glibc)
import Glibc
#endif

/// Voluntary and involuntary context switches of a task.
///
/// Voluntary switches count blocking (a thread slept on a socket, futex or epoll);
/// involuntary ones count preemption. The seeds argue about both: "~4–5 context
/// switches per request", threads herded awake for nothing.
///
/// Note: `/proc/PID/status` reports the counts of the *main thread only*;
/// ``readProcess(pid:)`` sums `/proc/PID/task/*/status` over live threads, and
/// ``ResourceUsage/current()`` (getrusage `RUSAGE_SELF`) also includes threads that
/// have exited.
public struct ContextSwitches: Sendable, Equatable, Codable {
    /// `voluntary_ctxt_switches`: the task gave up the CPU (blocked).
    public var voluntary: UInt64
    /// `nonvoluntary_ctxt_switches`: the task was preempted.
    public var involuntary: UInt64

    /// Build counts directly.
    public init(voluntary: UInt64 = 0, involuntary: UInt64 = 0) {
        self.voluntary = voluntary
        self.involuntary = involuntary
    }

    /// Voluntary plus involuntary.
    public var total: UInt64 { voluntary + involuntary }

    /// Component-wise sum.
    public static func + (a: ContextSwitches, b: ContextSwitches) -> ContextSwitches {
        ContextSwitches(voluntary: a.voluntary + b.voluntary, involuntary: a.involuntary + b.involuntary)
    }

    /// Component-wise difference, clamped at 0 (threads can exit between two reads).
    public static func - (a: ContextSwitches, b: ContextSwitches) -> ContextSwitches {
        ContextSwitches(voluntary: a.voluntary &- min(a.voluntary, b.voluntary),
                        involuntary: a.involuntary &- min(a.involuntary, b.involuntary))
    }

    /// Parse the two counters out of the text of a `status` file; `nil` if absent.
    public static func parse(status text: String) -> ContextSwitches? {
        let fields = ProcFile.parseKeyValueLines(text)
        guard let v = fields["voluntary_ctxt_switches"].flatMap({ UInt64($0) }),
              let n = fields["nonvoluntary_ctxt_switches"].flatMap({ UInt64($0) }) else { return nil }
        return ContextSwitches(voluntary: v, involuntary: n)
    }

    /// Counts of one task: `/proc/PID/status` (main thread) or, with `tid`, `/proc/PID/task/TID/status`.
    public static func read(pid: Int32, tid: Int32? = nil) -> ContextSwitches? {
        let path = tid.map { "/proc/\(pid)/task/\($0)/status" } ?? "/proc/\(pid)/status"
        return ProcFile.read(path).flatMap { parse(status: $0) }
    }

    /// Context switches of the whole machine since boot (the `ctxt` line of `/proc/stat`).
    public static func machineTotal() -> UInt64? {
        guard let text = ProcFile.read("/proc/stat") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("ctxt ") {
            return UInt64(line.dropFirst(5))
        }
        return nil
    }

    /// Sum over every live thread of `pid` (`/proc/PID/task/*/status`); `nil` if the process is gone.
    public static func readProcess(pid: Int32) -> ContextSwitches? {
        let tids = ProcFile.list("/proc/\(pid)/task").compactMap(Int32.init)
        guard !tids.isEmpty else { return nil }
        return tids.compactMap { read(pid: pid, tid: $0) }.reduce(ContextSwitches(), +)
    }
}

/// `getrusage` figures for the calling process or thread: CPU time and context switches.
///
/// Cheaper than `/proc` (one syscall, no text) and, for `RUSAGE_SELF`, inclusive of
/// threads that already exited. Use it inside a process measuring itself.
public struct ResourceUsage: Sendable, Equatable {
    /// User CPU time in seconds.
    public var userSeconds: Double
    /// System CPU time in seconds.
    public var systemSeconds: Double
    /// Voluntary and involuntary context switches (`ru_nvcsw`, `ru_nivcsw`).
    public var contextSwitches: ContextSwitches
    /// Peak resident set size in bytes (`ru_maxrss`).
    public var maxRSSBytes: UInt64

    /// User plus system CPU seconds.
    public var cpuSeconds: Double { userSeconds + systemSeconds }

    /// The whole calling process, including exited threads (`RUSAGE_SELF`).
    public static func current() -> ResourceUsage { read(__rusage_who_t(RUSAGE_SELF.rawValue)) }

    /// The calling thread only (`RUSAGE_THREAD`).
    public static func currentThread() -> ResourceUsage { read(__rusage_who_t(1) /* RUSAGE_THREAD, hidden without _GNU_SOURCE */) }

    /// Waited-for children of the calling process (`RUSAGE_CHILDREN`).
    public static func children() -> ResourceUsage { read(__rusage_who_t(RUSAGE_CHILDREN.rawValue)) }

    private static func read(_ who: __rusage_who_t) -> ResourceUsage {
        var ru = rusage()
        _ = getrusage(who, &ru)
        func secs(_ tv: timeval) -> Double { Double(tv.tv_sec) + Double(tv.tv_usec) / 1e6 }
        return ResourceUsage(
            userSeconds: secs(ru.ru_utime), systemSeconds: secs(ru.ru_stime),
            contextSwitches: ContextSwitches(voluntary: UInt64(max(0, ru.ru_nvcsw)), involuntary: UInt64(max(0, ru.ru_nivcsw))),
            maxRSSBytes: UInt64(max(0, ru.ru_maxrss)) * 1024)
    }

    /// Difference of two readings (later minus earlier); peak RSS is taken from `self`.
    public static func - (a: ResourceUsage, b: ResourceUsage) -> ResourceUsage {
        ResourceUsage(userSeconds: a.userSeconds - b.userSeconds, systemSeconds: a.systemSeconds - b.systemSeconds,
                      contextSwitches: a.contextSwitches - b.contextSwitches, maxRSSBytes: a.maxRSSBytes)
    }

    /// Sum of two readings (e.g. a process and its waited-for children); peak RSS is the larger.
    public static func + (a: ResourceUsage, b: ResourceUsage) -> ResourceUsage {
        ResourceUsage(userSeconds: a.userSeconds + b.userSeconds, systemSeconds: a.systemSeconds + b.systemSeconds,
                      contextSwitches: a.contextSwitches + b.contextSwitches, maxRSSBytes: max(a.maxRSSBytes, b.maxRSSBytes))
    }
}
