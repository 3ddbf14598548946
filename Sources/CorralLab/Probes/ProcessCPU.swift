#if canImport(Glibc)
import Glibc
#endif

/// CPU time and scheduling facts of one process or thread, from `/proc/PID/stat`
/// or `/proc/PID/task/TID/stat`.
///
/// Experiments use it to charge CPU time per request or per hand-off to the
/// processes they started, and to see which CPU each thread last ran on.
public struct ProcessStat: Sendable, Equatable {
    /// Process (or thread) id, field 1.
    public var pid: Int32
    /// The command name between the parentheses, field 2 (may contain spaces and parentheses).
    public var comm: String
    /// One-letter state (R, S, D, Z, …), field 3.
    public var state: Character
    /// The parent process, field 4 (0 when not parsed).
    public var parentPID: Int32 = 0
    /// User-mode CPU time in clock ticks, field 14.
    public var utimeTicks: UInt64
    /// Kernel-mode CPU time in clock ticks, field 15.
    public var stimeTicks: UInt64
    /// Number of threads, field 20.
    public var threadCount: Int
    /// CPU the task last ran on, field 39 (`nil` if absent).
    public var processor: Int?

    /// Build a stat directly.
    public init(pid: Int32, comm: String, state: Character, utimeTicks: UInt64, stimeTicks: UInt64, threadCount: Int, processor: Int?) {
        self.pid = pid
        self.comm = comm
        self.state = state
        self.utimeTicks = utimeTicks
        self.stimeTicks = stimeTicks
        self.threadCount = threadCount
        self.processor = processor
    }

    /// User plus kernel time in clock ticks.
    public var totalTicks: UInt64 { utimeTicks + stimeTicks }

    /// User plus kernel time in seconds.
    public var cpuSeconds: Double { Double(totalTicks) / Double(ClockTicks.perSecond) }

    /// Parse the one-line text of a `stat` file. The command name may hold spaces and
    /// parentheses, so the remaining fields are split after the *last* `)`.
    /// Returns `nil` for malformed text.
    public static func parse(_ text: String) -> ProcessStat? {
        guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")"), open < close else { return nil }
        guard let pid = Int32(text[..<open].trimmingCharacters()) else { return nil }
        let comm = String(text[text.index(after: open)..<close])
        // Fields after the comm, starting at field 3 (state) as index 0.
        let rest = text[text.index(after: close)...].split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard rest.count >= 18, let state = rest[0].first,
              let utime = UInt64(rest[11]), let stime = UInt64(rest[12]),
              let threads = Int(rest[17]) else { return nil }
        let processor = rest.count > 36 ? Int(rest[36]) : nil
        var stat = ProcessStat(pid: pid, comm: comm, state: state, utimeTicks: utime, stimeTicks: stime,
                               threadCount: threads, processor: processor)
        stat.parentPID = Int32(rest[1]) ?? 0
        return stat
    }

    /// Read `/proc/PID/stat`; `nil` if the process is gone.
    public static func read(pid: Int32) -> ProcessStat? {
        ProcFile.read("/proc/\(pid)/stat").flatMap(parse)
    }

    /// Read `/proc/PID/task/TID/stat` for one thread; `nil` if it is gone.
    public static func read(pid: Int32, tid: Int32) -> ProcessStat? {
        ProcFile.read("/proc/\(pid)/task/\(tid)/stat").flatMap(parse)
    }

    /// The stat of every live thread of `pid` (threads that exit meanwhile are skipped).
    public static func threads(pid: Int32) -> [ProcessStat] {
        ProcFile.list("/proc/\(pid)/task").compactMap(Int32.init).sorted().compactMap { read(pid: pid, tid: $0) }
    }
}

/// The kernel's clock-tick rate for `/proc` CPU times (`sysconf(_SC_CLK_TCK)`, usually 100).
public enum ClockTicks {
    /// Ticks per second; 100 if `sysconf` fails.
    public static let perSecond: Int = {
        let v = sysconf(Int32(_SC_CLK_TCK))
        return v > 0 ? v : 100
    }()
}

/// Process ids of the calling process and thread.
public enum CurrentProcess {
    /// `getpid()`.
    public static var pid: Int32 { getpid() }
    /// The kernel thread id of the calling thread, read from the `/proc/thread-self`
    /// link (`PID/task/TID`) so no raw syscall number is needed; `nil` without `/proc`.
    public static var tid: Int32? {
        var buffer = [CChar](repeating: 0, count: 64)
        let n = readlink("/proc/thread-self", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        let target = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return target.split(separator: "/").last.flatMap { Int32($0) }
    }
}

extension Substring {
    func trimmingCharacters() -> Substring {
        var s = self
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return s
    }
}
