import CorralRuntime
import Glibc

/// Child processes of the lab: its own workers (`corral lab-worker …`), `ip` and `tc` for
/// network set-up, nginx as a subject, bpftrace as a probe.
///
/// Always posix_spawn, never fork: the lab is multi-threaded, and running code in a forked
/// child of a multi-threaded process is unsafe. A child starts in the network namespace of the
/// thread that spawns it, which is how `ip` and servers are placed in the lab's namespaces.
enum Subprocess {
    /// Starts `arguments` (the first is the program: an absolute path, or a name looked up in
    /// PATH, /usr/sbin and /sbin) with `fds` moved onto 3, 4, … and standard input, output and
    /// error redirected where given (the lab's own otherwise). Returns the pid.
    static func spawn(_ arguments: [String], fds: [CInt] = [], stdin: CInt? = nil, stdout: CInt? = nil,
                      stderr: CInt? = nil, executable: String? = nil) throws -> pid_t {
        guard let program = arguments.first else { throw LabSkip("nothing to run") }
        guard let path = executable ?? find(program) else { throw LabSkip("\(program) is not installed") }
        return try Processes.spawn(path, arguments: arguments, descriptors: [stdin ?? -1, stdout ?? -1, stderr ?? -1] + fds)
    }

    /// Runs `arguments` to the end (at most `milliseconds`, then it is killed) with `input` on
    /// its standard input; returns its exit status (-1 if killed by a signal) and what it
    /// wrote to standard output and error.
    static func run(_ arguments: [String], input: String = "", fds: [CInt] = [],
                    milliseconds: Int = 10_000) throws -> (status: Int32, output: String) {
        let (inRead, inWrite) = try Posix.pipe()
        let (outRead, outWrite) = try Posix.pipe()
        let pid: pid_t
        do {
            pid = try spawn(arguments, fds: fds, stdin: inRead, stdout: outWrite, stderr: outWrite)
        } catch {
            for fd in [inRead, inWrite, outRead, outWrite] { Posix.close(fd) }
            throw error
        }
        Posix.close(inRead)
        Posix.close(outWrite)
        // Small (a few commands): it fits the pipe's buffer, so this never waits on the child.
        var pending = Array(input.utf8)[...]
        while !pending.isEmpty {
            guard case .processed(let n)? = try? pending.withUnsafeBytes({ try Posix.write(inWrite, $0) }), n > 0 else { break }
            pending = pending.dropFirst(n)
        }
        Posix.close(inWrite)
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        let end = deadline(afterMilliseconds: milliseconds)
        while waitReadable(outRead, until: end) {
            guard let n = try? chunk.withUnsafeMutableBytes({ (buffer) throws(SystemError) -> Int in
                try Posix.readBlocking(outRead, buffer)
            }), n > 0 else { break }
            output += chunk[0..<n]
        }
        Posix.close(outRead)
        let status = reap(pid, milliseconds: 1000)
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : -1
        return (code, String(decoding: output, as: UTF8.self))
    }

    /// The absolute path of `program`: itself if it contains a slash, else the first match in
    /// PATH, /usr/sbin, /sbin, /usr/bin, /bin.
    static func find(_ program: String) -> String? {
        if program.contains("/") { return access(program, X_OK) == 0 ? program : nil }
        let path = getenv("PATH").map { String(cString: $0) } ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        return directories.lazy.map { $0 + "/" + program }.first { access($0, X_OK) == 0 }
    }

    /// Waits up to `milliseconds` for `pid` to exit (poll(2) on a pidfd: no polling loop), then
    /// kills it; always reaps it. Returns the wait status.
    @discardableResult
    static func reap(_ pid: pid_t, milliseconds: Int = 2000) -> CInt {
        // A failed pidfd_open (pre-5.3 kernel, no such process) only skips the grace period.
        if let pidfd = try? Processes.pidfdOpen(pid) {
            _ = waitReadable(pidfd, until: deadline(afterMilliseconds: milliseconds))
            Posix.close(pidfd)
        }
        do {
            if let reaped = try Processes.waitpid(pid, noHang: true) { return reaped.status }
            try Processes.kill(pid, SIGKILL)
            return try Processes.waitpid(pid)?.status ?? -1
        } catch {
            // ECHILD: not our child or reaped already; nothing is left to wait for.
            return -1
        }
    }

    /// Sends `signal`, then reaps as `reap` does (SIGKILL after `milliseconds`).
    @discardableResult
    static func stop(_ pid: pid_t, signal: CInt = SIGTERM, milliseconds: Int = 2000) -> CInt {
        _ = try? Processes.kill(pid, signal)
        return reap(pid, milliseconds: milliseconds)
    }

    /// Kills and reaps every pid.
    static func killAll(_ pids: [pid_t]) {
        for pid in pids { _ = try? Processes.kill(pid, SIGKILL) }
        for pid in pids { _ = try? Processes.waitpid(pid) }
    }
}
