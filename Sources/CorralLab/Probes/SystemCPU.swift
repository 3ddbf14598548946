/// Cumulative CPU time counters of one CPU (or all of them), from a `cpu` line of `/proc/stat`.
///
/// Values are in clock ticks since boot. Only differences mean anything; see ``CPUSample``.
public struct CPUTimes: Sendable, Equatable, Codable {
    public var user: UInt64
    public var nice: UInt64
    public var system: UInt64
    public var idle: UInt64
    public var iowait: UInt64
    public var irq: UInt64
    public var softirq: UInt64
    public var steal: UInt64

    /// Build counters directly (all default to 0).
    public init(user: UInt64 = 0, nice: UInt64 = 0, system: UInt64 = 0, idle: UInt64 = 0,
                iowait: UInt64 = 0, irq: UInt64 = 0, softirq: UInt64 = 0, steal: UInt64 = 0) {
        self.user = user; self.nice = nice; self.system = system; self.idle = idle
        self.iowait = iowait; self.irq = irq; self.softirq = softirq; self.steal = steal
    }

    /// Time doing work: user + nice + system + irq + softirq + steal. (Guest time is
    /// already inside user and nice, so it is not added again.)
    public var busy: UInt64 { user + nice + system + irq + softirq + steal }

    /// Busy time plus idle and iowait.
    public var total: UInt64 { busy + idle + iowait }

    /// Counter-wise difference, clamped at 0 (counters can step back after CPU hot-plug).
    public static func - (a: CPUTimes, b: CPUTimes) -> CPUTimes {
        func d(_ x: UInt64, _ y: UInt64) -> UInt64 { x >= y ? x - y : 0 }
        return CPUTimes(user: d(a.user, b.user), nice: d(a.nice, b.nice), system: d(a.system, b.system),
                        idle: d(a.idle, b.idle), iowait: d(a.iowait, b.iowait), irq: d(a.irq, b.irq),
                        softirq: d(a.softirq, b.softirq), steal: d(a.steal, b.steal))
    }

    /// Fraction of `total` that was busy (0…1); 0 when no time passed.
    public var busyFraction: Double { total == 0 ? 0 : Double(busy) / Double(total) }

    /// Parse the numbers after the label of a `cpu`/`cpuN` line. Missing trailing
    /// columns (old kernels) count as 0; `nil` if fewer than four numbers.
    public static func parse(fields: [Substring]) -> CPUTimes? {
        let n = fields.compactMap { UInt64($0) }
        guard n.count >= 4, n.count == fields.count else { return nil }
        func at(_ i: Int) -> UInt64 { i < n.count ? n[i] : 0 }
        return CPUTimes(user: at(0), nice: at(1), system: at(2), idle: at(3), iowait: at(4),
                        irq: at(5), softirq: at(6), steal: at(7))
    }
}

/// One reading of system-wide CPU counters: the aggregate `cpu` line and each `cpuN` line of `/proc/stat`.
///
/// Take one before and one after a run and subtract: the difference says how busy
/// the machine was, which is how the `mesh` experiment shows the seed's "CPU ~80 %
/// idle" effect (or its absence).
public struct CPUSample: Sendable, Equatable {
    /// The aggregate `cpu` line (sum over CPUs).
    public var aggregate: CPUTimes
    /// `cpuN` lines keyed by N (offline CPUs are absent).
    public var perCPU: [Int: CPUTimes]

    /// Build a sample directly.
    public init(aggregate: CPUTimes, perCPU: [Int: CPUTimes]) {
        self.aggregate = aggregate
        self.perCPU = perCPU
    }

    /// Parse the text of `/proc/stat`; `nil` without an aggregate `cpu` line.
    public static func parse(_ text: String) -> CPUSample? {
        var aggregate: CPUTimes?
        var perCPU: [Int: CPUTimes] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("cpu") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let label = fields.first, let times = CPUTimes.parse(fields: Array(fields.dropFirst())) else { continue }
            if label == "cpu" {
                aggregate = times
            } else if let n = Int(label.dropFirst(3)) {
                perCPU[n] = times
            }
        }
        return aggregate.map { CPUSample(aggregate: $0, perCPU: perCPU) }
    }

    /// Read `/proc/stat` now.
    public static func read() -> CPUSample? {
        ProcFile.read("/proc/stat").flatMap(parse)
    }

    /// What happened between `earlier` and `self`.
    public static func - (later: CPUSample, earlier: CPUSample) -> CPUUtilisation {
        var per: [Int: Double] = [:]
        for (n, t) in later.perCPU {
            if let e = earlier.perCPU[n] { per[n] = (t - e).busyFraction }
        }
        return CPUUtilisation(delta: later.aggregate - earlier.aggregate, perCPUBusyFraction: per,
                              cpuCount: max(1, later.perCPU.count))
    }
}

/// CPU utilisation over an interval: the difference of two ``CPUSample``s.
public struct CPUUtilisation: Sendable, Equatable {
    /// Aggregate counter differences in ticks.
    public var delta: CPUTimes
    /// Busy fraction (0…1) of each CPU over the interval.
    public var perCPUBusyFraction: [Int: Double]
    /// CPUs seen in the later sample.
    public var cpuCount: Int

    /// Build a utilisation directly.
    public init(delta: CPUTimes, perCPUBusyFraction: [Int: Double], cpuCount: Int) {
        self.delta = delta
        self.perCPUBusyFraction = perCPUBusyFraction
        self.cpuCount = cpuCount
    }

    /// Machine-wide busy fraction (0…1): 0.5 on a 2-CPU box means one CPU's worth of work.
    public var busyFraction: Double { delta.busyFraction }

    /// Busy time expressed in CPUs kept busy (busy fraction × CPU count): 1.0 = one full core.
    public var busyCores: Double { busyFraction * Double(cpuCount) }
}
