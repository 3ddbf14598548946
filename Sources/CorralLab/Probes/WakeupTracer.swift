import CorralRuntime
import Glibc

/// Counts scheduler wake-ups per thread from the kernel's `sched:sched_wakeup` tracepoint, with
/// bpftrace: the wake-ups themselves, including those of threads that go straight back to
/// sleep inside the kernel (a herd in epoll_wait), which no /proc counter shows.
///
/// One bpftrace process runs for the whole experiment (starting one takes ~0.5 s). Intervals
/// are delimited by the lab itself: ``interval()`` makes a prctl(2) call no kernel knows (see
/// `traceMarker`), bpftrace's probe on `sys_enter_prctl` (filtered to this process and this
/// tracer's cookie) prints the counts gathered since the last mark and clears them, and the lab
/// reads them from a pipe. bpftrace carries out print and clear in order after the mark, and
/// the lab waits for the mark's line before it goes on, so no interval's counts are cleared
/// early; the counts are read a moment after the mark, while the measured threads are idle.
final class WakeupTracer: @unchecked Sendable {
    private let pid: pid_t
    private let output: CInt
    /// Which tracer a mark is for: several may run in one process (tests in parallel).
    private let cookie: UInt
    private var sequence: UInt = 0
    private var buffered: [UInt8] = []

    private init(pid: pid_t, output: CInt, cookie: UInt) {
        self.pid = pid
        self.output = output
        self.cookie = cookie
    }

    /// Starts bpftrace, mounting tracefs first if it is not; fails with the reason when
    /// bpftrace is missing, tracefs cannot be mounted or the probes do not attach.
    static func start() -> Result<WakeupTracer, LabSkip> {
        guard Subprocess.find("bpftrace") != nil else {
            return .failure(LabSkip("bpftrace is not installed (Scripts/setup.sh installs it)"))
        }
        let events = "/sys/kernel/tracing/events/sched/sched_wakeup"
        if access(events, F_OK) != 0 {
            _ = try? Subprocess.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"])
            guard access(events, F_OK) == 0 else {
                return .failure(LabSkip("tracefs is not mounted at /sys/kernel/tracing and could not be (needs root)"))
            }
        }
        let cookie = UInt.random(in: 1...UInt(UInt32.max))
        let script = """
            BEGIN { printf("ready\\n"); }
            tracepoint:sched:sched_wakeup { @w[args->pid] = count(); }
            tracepoint:syscalls:sys_enter_prctl /pid == \(getpid()) && args->option == 0x434f5252 && args->arg3 == \(cookie)/ {
                print(@w); clear(@w); printf("mark %d\\n", args->arg2);
            }
            """
        do {
            let (read, write) = try Posix.pipe()
            let pid: pid_t
            do {
                pid = try Subprocess.spawn(["bpftrace", "-e", script], stdout: write, stderr: write)
            } catch {
                Posix.close(read)
                Posix.close(write)
                throw error
            }
            Posix.close(write)
            let tracer = WakeupTracer(pid: pid, output: read, cookie: cookie)
            var said: [String] = []
            while let line = tracer.readLine(milliseconds: 15_000) {
                if line == "ready" { return .success(tracer) }
                said.append(line)
            }
            tracer.stop()
            let reason = said.last { $0.hasPrefix("ERROR") && !$0.contains("RLIMIT_MEMLOCK") } ?? said.last ?? "no output"
            return .failure(LabSkip("bpftrace did not start: \(reason)"))
        } catch {
            return .failure(LabSkip("bpftrace: \(error)"))
        }
    }

    /// Wake-ups per thread id since the previous call (or since the tracer started); `nil` if
    /// bpftrace stopped answering.
    func interval() -> [Int32: UInt64]? {
        sequence += 1
        traceMarker(cookie: cookie, sequence: sequence)
        var counts: [Int32: UInt64] = [:]
        while let line = readLine(milliseconds: 5000) {
            if line == "mark \(sequence)" { return counts }
            // `@w[1234]: 5`
            guard line.hasPrefix("@w["), let close = line.firstIndex(of: "]"),
                  let tid = Int32(line[line.index(line.startIndex, offsetBy: 3)..<close]),
                  let colon = line.lastIndex(of: ":"), let n = UInt64(line[line.index(after: colon)...].drop { $0 == " " })
            else { continue }
            counts[tid, default: 0] += n
        }
        return nil
    }

    /// Ends bpftrace (SIGINT, as at a terminal) and reaps it.
    func stop() {
        Subprocess.stop(pid, signal: SIGINT, milliseconds: 3000)
        Posix.close(output)
    }

    private func readLine(milliseconds: Int) -> String? {
        let end = deadline(afterMilliseconds: milliseconds)
        while true {
            if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffered[..<newline], as: UTF8.self)
                buffered.removeSubrange(...newline)
                return line
            }
            guard waitReadable(output, until: end) else { return nil }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = try? chunk.withUnsafeMutableBytes { (buffer) throws(SystemError) -> Int in
                try Posix.readBlocking(output, buffer)
            }
            guard let n, n > 0 else { return nil }  // end of file or a read error: bpftrace is gone
            buffered += chunk[0..<n]
        }
    }
}
