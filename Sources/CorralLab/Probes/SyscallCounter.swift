import CorralRuntime
import Glibc

/// Counts the system calls one process makes over a window, with `perf stat` on the syscall
/// tracepoints (`raw_syscalls:sys_enter` for all of them, `syscalls:sys_enter_NAME` for the
/// ones named). The window is exact: perf starts with its counters disabled (`-D -1`) and the
/// lab enables and disables them over perf's control pipe, waiting for each acknowledgement.
/// Needs root (or perf_event_paranoid ≤ -1) and tracefs mounted (`Scripts/setup.sh` does both
/// for root); `unavailable()` says why when it cannot run.
final class SyscallCounter {
    /// The syscalls counted one by one (the rest only in the total).
    static let named = [
        "accept4", "epoll_wait", "epoll_pwait", "epoll_ctl", "read", "recvfrom", "sendmsg", "sendto", "writev", "sendfile64",
        "close", "shutdown", "setsockopt", "io_uring_enter",
    ]

    private let pid: pid_t
    private let control: CInt
    private let acknowledgements: CInt
    private let outputPath: String
    private var stopped = false

    /// Attaches to `pid` with the counters off. Throws ``LabSkip`` if perf cannot be started.
    init(pid: pid_t) throws {
        let events = (["raw_syscalls:sys_enter"] + Self.named.map { "syscalls:sys_enter_\($0)" }).joined(separator: ",")
        let (controlRead, controlWrite) = try Posix.pipe()
        let (ackRead, ackWrite) = try Posix.pipe()
        outputPath = "/tmp/corral-lab-syscalls-\(getpid())-\(pid).csv"
        let child: pid_t
        do {
            let null = try Posix.openReadWrite("/dev/null")
            defer { Posix.close(null) }
            child = try Subprocess.spawn(
                ["perf", "stat", "-x", ",", "-D", "-1", "--control", "fd:3,4", "-e", events, "-p", "\(pid)", "-o", outputPath],
                fds: [controlRead, ackWrite], stdin: null, stdout: null, stderr: null)
        } catch {
            for fd in [controlRead, controlWrite, ackRead, ackWrite] { Posix.close(fd) }
            throw error
        }
        Posix.close(controlRead)
        Posix.close(ackWrite)
        self.pid = child
        control = controlWrite
        acknowledgements = ackRead
    }

    /// Turns the counters on; false if perf did not acknowledge (it failed to attach).
    func enable() -> Bool { command("enable") }

    /// Turns the counters off, ends perf and returns the counts by syscall name (`total` for
    /// all of them); nil if perf failed.
    func finish() -> [String: UInt64]? {
        guard !stopped else { return nil }
        let disabled = command("disable")
        stopped = true
        Posix.close(control)
        Posix.close(acknowledgements)
        Subprocess.stop(pid, signal: SIGINT, milliseconds: 5000)
        defer { removeOutput() }
        guard disabled, let text = ProcFile.read(outputPath) else { return nil }
        return Self.parse(text)
    }

    /// Ends perf without reading (an aborted run).
    func cancel() {
        guard !stopped else { return }
        stopped = true
        Posix.close(control)
        Posix.close(acknowledgements)
        Subprocess.stop(pid, signal: SIGINT, milliseconds: 5000)
        removeOutput()
    }

    /// Deletes perf's output file. Already gone is fine (Posix.unlink); any other failure
    /// only leaves a stray file in /tmp and must not fail the measurement, so it is dropped.
    private func removeOutput() {
        _ = try? Posix.unlink(outputPath)
    }

    private func command(_ word: String) -> Bool {
        let line = Array((word + "\n").utf8)
        // EPIPE (perf exited) or any other failure means no acknowledgement will come.
        let written = try? line.withUnsafeBytes { (buffer) throws(SystemError) -> Int in try Posix.writeBlocking(control, buffer) }
        guard written == line.count, waitReadable(acknowledgements, until: deadline(afterMilliseconds: 5000)) else { return false }
        var reply = [UInt8](repeating: 0, count: 64)
        guard let n = try? reply.withUnsafeMutableBytes({ (buffer) throws(SystemError) -> Int in
            try Posix.readBlocking(acknowledgements, buffer)
        }) else { return false }
        return n > 0 && String(decoding: reply[0..<n], as: UTF8.self).hasPrefix("ack")
    }

    /// perf stat's CSV (`-x ,`): `COUNT,UNIT,EVENT,…` per event; `<not counted>` or
    /// `<not supported>` for an event it could not count (then the parse fails for the total).
    static func parse(_ text: String) -> [String: UInt64]? {
        var counts: [String: UInt64] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count >= 3, let count = UInt64(fields[0]) else { continue }
            let event = fields[2]
            if event == "raw_syscalls:sys_enter" {
                counts["total"] = count
            } else if event.hasPrefix("syscalls:sys_enter_") {
                counts[String(event.dropFirst("syscalls:sys_enter_".count))] = count
            }
        }
        return counts["total"] == nil ? nil : counts
    }

    /// Why the counter cannot run here (one line), or nil if it can: tries a one-shot count of
    /// `true`'s syscalls.
    static func unavailable() -> String? {
        guard Subprocess.find("perf") != nil else {
            return "perf is not installed (Scripts/setup.sh installs linux-perf)"
        }
        guard let result = try? Subprocess.run(["perf", "stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "--", "true"], milliseconds: 10_000),
              result.status == 0, let counts = parse(result.output), (counts["total"] ?? 0) > 0
        else {
            return "perf stat cannot count the raw_syscalls tracepoints (it needs root and tracefs mounted: Scripts/setup.sh)"
        }
        return nil
    }
}
