import CorralRuntime
import Glibc
import Synchronization

/// Writes log lines to a file or standard output from its own thread, so that no event loop
/// ever waits for a disk, a pipe or a terminal: a log pipe nobody reads stalls this thread
/// only. Producers hand over whole buffers (a loop's batch of lines) under a short lock; when
/// more than `maxQueuedBytes` wait, new buffers are dropped and their lines counted in
/// `droppedLines` (exported as a metric) rather than growing memory without bound.
public final class LogWriter: Sendable {
    /// Where the lines go.
    public enum Destination: Sendable, Equatable {
        case standardOutput
        case standardError
        /// A file, opened for appending (created 0644 if missing) and reopened by `reopen()`
        /// (after a log rotation moved it away).
        case file(String)
    }

    /// What the writer thread has to do, in order.
    private enum Work {
        case lines([UInt8], count: Int)
        case reopen
    }

    public let destination: Destination
    private let queue: BoundedHandoff<Work>
    private let dropped = Atomic<Int>(0)
    private let written = Atomic<Int>(0)

    /// Opens the destination (so a bad path fails here, with its errno) and starts the thread.
    public init(destination: Destination, maxQueuedBytes: Int = 8 << 20) throws(SystemError) {
        self.destination = destination
        queue = try BoundedHandoff(budget: maxQueuedBytes)
        let fd = try Self.open(destination)
        try Threads.spawn(name: "corral-log", detached: true) { [self] in run(fd: fd) }
    }

    /// Lines dropped because the destination could not keep up (or failed).
    public var droppedLines: Int { dropped.load(ordering: .relaxed) }
    /// Bytes written so far.
    public var writtenBytes: Int { written.load(ordering: .relaxed) }

    /// Queues `buffer` (whole lines, `lines` of them) for writing; never waits for the writer.
    public func submit(_ buffer: [UInt8], lines: Int) {
        guard !buffer.isEmpty else { return }
        if !queue.submit(.lines(buffer, count: lines), cost: buffer.count) {
            dropped.add(lines, ordering: .relaxed)
        }
    }

    /// Reopens a file destination (SIGHUP after log rotation); nothing for the standard streams.
    /// Lines submitted before go to the old file, lines submitted after to the new one.
    public func reopen() {
        queue.append(.reopen)
    }

    /// Writes what is queued (waiting at most `seconds` for a stalled destination), then stops
    /// the thread. Lines submitted afterwards are dropped.
    public func stop(waitingAtMost seconds: Double = 5) {
        queue.stop(waitingAtMost: seconds)
    }

    // MARK: the writer thread

    private func run(fd initial: CInt) {
        var fd = initial
        var failed = false
        while true {
            let (work, stopping) = queue.nextBatch()
            for item in work {
                switch item {
                case .reopen:
                    guard case .file = destination, let fresh = try? Self.open(destination) else { continue }
                    Posix.close(fd)
                    fd = fresh
                    failed = false
                case .lines(let buffer, let count):
                    // After a failure (or a stall while stopping), lines are dropped until a reopen.
                    if failed || !writeAll(buffer, to: fd, giveUpAfterStall: stopping) {
                        failed = true
                        dropped.add(count, ordering: .relaxed)
                    }
                }
            }
            if stopping {
                if case .file = destination { Posix.close(fd) }
                queue.consumerFinished()
                return
            }
        }
    }

    /// Writes all of `buffer`. A non-blocking destination (a standard stream whose pipe another
    /// process made non-blocking) is waited for with poll(2); false if it fails, or if
    /// `giveUpAfterStall` and it makes no progress for a second.
    private func writeAll(_ buffer: [UInt8], to fd: CInt, giveUpAfterStall: Bool) -> Bool {
        buffer.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                switch try? Posix.write(fd, bytes.slice(offset..<bytes.count)) {
                case .processed(let count)?:
                    offset += count
                    written.add(count, ordering: .relaxed)
                case .wouldBlock?:
                    let ready = (try? Posix.poll(fd, events: Int16(POLLOUT), milliseconds: giveUpAfterStall ? 1000 : -1)) ?? false
                    if !ready { return false }
                case nil:
                    return false
                }
            }
            return true
        }
    }

    private static func open(_ destination: Destination) throws(SystemError) -> CInt {
        switch destination {
        case .standardOutput: return 1
        case .standardError: return 2
        case .file(let path):
            return try Posix.openForAppending(path)
        }
    }
}
