import CorralRuntime
import Glibc

/// `corral lab backends` (issue 11): what each of the runtime's I/O backends costs per HTTP
/// request — system calls, context switches, CPU — with keep-alive connections and with one
/// request per connection, at 1, 64 and 1000 connections.
public struct BackendsExperiment: LabExperiment {
    /// The backends asked for (`--backend`), or nil: every one this machine offers.
    private let chosen: [String]?

    /// The backends measured: those asked for (those this build does not offer are skipped with a
    /// note), or every one this machine offers. Found when first asked, not at init: the probe
    /// sets up an io_uring on a thread of its own, and the lab's worker processes that fork
    /// (`models`) must never have had a second thread (`corral --help` builds this experiment).
    public var backends: [String] { chosen ?? Self.offered.map(\.name) }

    public init(backends: [String]? = nil) { chosen = backends }

    /// One way `corral serve` can do its I/O, and the arguments that select it.
    public struct Backend: Sendable {
        public var name: String
        public var serveArguments: [String]
    }

    /// The backends this machine's runtime offers (`EventLoopBackend.available`: io_uring only
    /// where `io_uring_setup` works, so a `uring` point never silently measures the epoll
    /// fallback), each selected by `corral serve --backend`.
    public static var offered: [Backend] {
        EventLoopBackend.available.map { Backend(name: "\($0)", serveArguments: ["--backend", "\($0)"]) }
    }

    /// Every backend name the runtime has or is planned to have (`--backend` accepts these).
    public static let known = ["epoll", "uring"]

    public enum Figure: String, LabFigureName {
        case requests, requestsPerSecond = "requests_per_s", errors
        case serverCPU = "server_cpu_us_per_request"
        case serverSwitches = "server_cs_per_request", serverVoluntarySwitches = "server_vcs_per_request"
        case syscalls = "syscalls_per_request"
        case accept4 = "accept4_per_request", epollWait = "epoll_wait_per_request", epollCtl = "epoll_ctl_per_request"
        case reads = "read_per_request", sends = "sendmsg_per_request", closes = "close_per_request"
        case uringEnter = "io_uring_enter_per_request"
    }

    public var name: String { "backends" }
    public var seed: String { "-" }
    public var title: String { "I/O backends: cost per request" }
    public var question: String {
        "What does each of the runtime's I/O backends cost per request — system calls, context switches, CPU — with keep-alive connections and with one request per connection, at 1, 64 and 1000 connections?"
    }
    public var method: String {
        "Each run starts `corral serve` (one event loop, pinned to the last CPU) on a directory holding a 13-byte file, with the backend under test, and drives it from the lab's HTTP client (one loop, pinned to the first CPU) over 127.0.0.1: `keepalive` — N connections each sending GET requests back to back; `close` — N clients each sending one GET with `Connection: close`, reading the response, closing and connecting again (`wrk -H \"Connection: close\"`). "
            + "After a short warm-up, a first window measures the server's CPU time (the sum of its threads' time on a CPU, /proc/PID/task/*/schedstat) and context switches (voluntary + involuntary, /proc/PID/task/*/status) per request. "
            + "A second window of the same length counts the server's system calls with `perf stat` on the raw_syscalls:sys_enter tracepoint (and syscalls:sys_enter_NAME for the ones shown), enabled and disabled over perf's control pipe, so the window is exact and the probe's own cost stays out of the CPU figures."
    }

    public func grid(quick: Bool) -> [LabPoint] {
        LabGrid.product([
            ("backend", backends), ("workload", ["keepalive", "close"]),
            ("connections", quick ? ["64"] : ["1", "64", "1000"]), ("seconds", [quick ? "0.15" : "2"]),
        ])
    }

    public var columns: [LabColumn] {
        [
            .parameter("backend"), .parameter("workload"), .parameter("connections", title: "N"),
            .figure(Figure.requestsPerSecond, title: "req/s", precision: 0),
            .figure(Figure.serverCPU, title: "server CPU/req", unit: "µs", precision: 1),
            .figure(Figure.serverSwitches, title: "server cswitch/req", precision: 3),
            .figure(Figure.syscalls, title: "syscalls/req", precision: 2),
            .figure(Figure.accept4, title: "accept4", precision: 2),
            .figure(Figure.epollWait, title: "epoll_wait", precision: 2),
            .figure(Figure.epollCtl, title: "epoll_ctl", precision: 2),
            .figure(Figure.reads, title: "read", precision: 2),
            .figure(Figure.sends, title: "sends", precision: 2),
            .figure(Figure.closes, title: "close", precision: 2),
            .figure(Figure.uringEnter, title: "io_uring_enter", precision: 2),
            .figure(Figure.errors, precision: 0),
        ]
    }

    public var charts: [LabChart] {
        [
            LabChart(title: "Server CPU per request", figure: Figure.serverCPU, x: "connections", series: "workload", unit: "µs"),
            LabChart(title: "System calls per request", figure: Figure.syscalls, x: "connections", series: "workload"),
            LabChart(title: "Server context switches per request", figure: Figure.serverSwitches, x: "connections", series: "workload"),
        ]
    }

    public func estimatedSeconds(quick: Bool) -> Double? {
        let perRun = quick ? 0.8 : 6.0  // start, warm-up, two windows, stop
        return perRun * Double(grid(quick: quick).count) * 3
    }

    public func run(point: LabPoint, in context: LabContext) throws -> LabFigures<Figure> {
        guard let backendName = point["backend"], let workload = point["workload"], let connections = point.int("connections"),
              let seconds = point.double("seconds"), workload == "close" || workload == "keepalive"
        else { throw LabSkip("bad point \(point)") }
        guard let backend = Self.offered.first(where: { $0.name == backendName }) else {
            throw LabSkip("this build's runtime has no \(backendName) backend")
        }
        _ = ResourceLimits.raiseDescriptors(to: 2 * connections + 512)
        let cpus = Threads.allowedCPUs()
        let server = try BackendsServer(backend: backend, cpu: cpus.count > 1 ? cpus.last : nil)
        defer { server.stop() }
        var load = HTTPLoad(target: .ipv4(host: "127.0.0.1", port: UInt16(server.port)), host: "127.0.0.1", path: "/index.html")
        load.connections = connections
        load.oneRequestPerConnection = workload == "close"
        let clientCPU = cpus.count > 1 ? cpus.first : nil

        load.durationSeconds = min(0.5, seconds / 2)
        _ = try Self.run(load, cpu: clientCPU)  // warm-up: the file cache, the first connections
        load.durationSeconds = seconds
        let cpuBefore = server.cpuNanoseconds()
        let switchesBefore = ContextSwitches.readProcess(pid: server.pid)
        let measured = try Self.run(load, cpu: clientCPU)
        let cpuAfter = server.cpuNanoseconds()
        let switchesAfter = ContextSwitches.readProcess(pid: server.pid)
        guard measured.requests > 0 else { throw LabSkip("no request was answered (\(measured.errors.first ?? "no error"))") }
        var figures: LabFigures<Figure> = [:]
        let requests = Double(measured.requests)
        figures[.requests] = requests
        figures[.requestsPerSecond] = measured.requestsPerSecond
        figures[.errors] = Double(measured.errors.count + measured.statusCounts.filter { $0.key != 200 }.values.reduce(0, +))
        figures[.serverCPU] = Double(cpuAfter &- cpuBefore) / 1000 / requests
        if let before = switchesBefore, let after = switchesAfter {
            let switches = after - before
            figures[.serverSwitches] = Double(switches.voluntary + switches.involuntary) / requests
            figures[.serverVoluntarySwitches] = Double(switches.voluntary) / requests
        }

        if let reason = context.syscallCounterUnavailable() {
            context.note("Syscalls per request not measured: \(reason).")
            return figures
        }
        let counter = try SyscallCounter(pid: server.pid)
        guard counter.enable() else {
            counter.cancel()
            context.note("Syscalls per request not measured: perf stat did not attach to the server.")
            return figures
        }
        let counted: HTTPLoad.Result
        do {
            counted = try Self.run(load, cpu: clientCPU)
        } catch {
            counter.cancel()
            throw error
        }
        guard let counts = counter.finish(), counted.requests > 0 else { return figures }
        let perRequest = { (name: String) in Double(counts[name] ?? 0) / Double(counted.requests) }
        figures[.syscalls] = perRequest("total")
        figures[.accept4] = perRequest("accept4")
        figures[.epollWait] = perRequest("epoll_wait") + perRequest("epoll_pwait")
        figures[.epollCtl] = perRequest("epoll_ctl")
        figures[.reads] = perRequest("read") + perRequest("recvfrom")
        figures[.sends] = perRequest("sendmsg") + perRequest("sendto") + perRequest("writev") + perRequest("sendfile64")
        figures[.closes] = perRequest("close")
        figures[.uringEnter] = perRequest("io_uring_enter")
        return figures
    }

    /// Runs `load` on a thread pinned to `cpu` (its event loop threads inherit the pinning).
    static func run(_ load: HTTPLoad, cpu: Int?) throws -> HTTPLoad.Result {
        let outcome = OutcomeBox()
        let thread = try Threads.spawn(name: "lab-backends-load") {
            if let cpu { try? Threads.pinCurrent(to: cpu) }
            outcome.value = Result { try load.run() }
        }
        Threads.join(thread)
        guard let result = outcome.value else { throw LabSkip("the load did not run") }
        return try result.get()
    }

    private final class OutcomeBox: @unchecked Sendable {
        var value: Result<HTTPLoad.Result, any Error>?  // written by the thread, read after the join
    }

    public func notes(for points: [LabPointResult]) -> [String] {
        var notes: [String] = []
        for backend in backends {
            for connections in ["1", "64", "1000"] {
                guard let close = median(points, .serverCPU, where: ["backend": backend, "workload": "close", "connections": connections]),
                      let keep = median(points, .serverCPU, where: ["backend": backend, "workload": "keepalive", "connections": connections])
                else { continue }
                var text = String(format: "%@, %@ connections: one request per connection costs %.1f µs of server CPU against %.1f µs with keep-alive (%.1f×)",
                                  backend, connections, close, keep, close / max(keep, 0.001))
                if let a = median(points, .syscalls, where: ["backend": backend, "workload": "close", "connections": connections]),
                   let b = median(points, .syscalls, where: ["backend": backend, "workload": "keepalive", "connections": connections]) {
                    text += String(format: "; %.2f against %.2f system calls", a, b)
                }
                notes.append(text + ".")
            }
        }
        notes.append("Server and client share the machine (one CPU each when there are two): req/s is often the client's limit; CPU, system calls and context switches per request are the comparable figures.")
        return notes
    }
}

/// `corral serve` as the experiment's subject: one loop, a 13-byte file, pinned with taskset.
final class BackendsServer {
    let pid: pid_t
    let port: Int
    private let output: CInt
    private let root: String
    private var stopped = false

    init(backend: BackendsExperiment.Backend, cpu: Int?) throws {
        do {
            root = try Files.makeTemporaryDirectory("/tmp/corral-lab-backends-")
        } catch {
            throw LabSkip("\(error)")
        }
        guard Self.create(root + "/index.html", "Hello, world\n") else {
            _ = try? Files.removeDirectory(root)  // empty: the file was never made
            throw LabSkip("cannot write the served file in \(root)")
        }
        let (readEnd, writeEnd) = try Posix.pipe()
        // The binary itself, not /proc/self/exe (which taskset would read as its own).
        var executable = try LabWorker.executable()
        if let resolved = realpath(executable, nil) {
            executable = String(cString: resolved)
            free(resolved)
        }
        let serve = [executable, "serve", root, "--host", "127.0.0.1", "--port", "0", "--loops", "1"] + backend.serveArguments
        let arguments = cpu.map { ["taskset", "-c", "\($0)"] + serve } ?? serve
        do {
            pid = try Subprocess.spawn(arguments, stdout: writeEnd, executable: cpu == nil ? serve[0] : nil)
        } catch {
            Posix.close(readEnd)
            Posix.close(writeEnd)
            Self.remove(root)
            throw error
        }
        Posix.close(writeEnd)
        output = readEnd
        // "listening on 127.0.0.1:PORT (…)"
        var line: [UInt8] = []
        let end = deadline(afterMilliseconds: 10_000)
        while !line.contains(10), waitReadable(readEnd, until: end) {
            var chunk = [UInt8](repeating: 0, count: 512)
            // A read error ends the wait like end of file: the missing line says so below.
            guard let n = try? chunk.withUnsafeMutableBytes({ (buffer) throws(SystemError) -> Int in
                try Posix.readBlocking(readEnd, buffer)
            }), n > 0 else { break }
            line += chunk[0..<n]
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("listening on "), let address = text.dropFirst(13).split(separator: " ").first,
              let port = address.split(separator: ":").last.flatMap({ Int($0) })
        else {
            Subprocess.stop(pid, signal: SIGKILL)
            Posix.close(readEnd)
            Self.remove(root)
            throw LabSkip("corral serve did not start (\(text.isEmpty ? "no listening line within 10 s" : text))")
        }
        self.port = port
    }

    /// The server's CPU time so far: its threads' time on a CPU (schedstat), in nanoseconds.
    func cpuNanoseconds() -> UInt64 {
        ProcFile.list("/proc/\(pid)/task").reduce(0) { sum, task in
            let text = ProcFile.read("/proc/\(pid)/task/\(task)/schedstat") ?? ""
            return sum + (text.split(separator: " ").first.flatMap { UInt64($0) } ?? 0)
        }
    }

    /// SIGINT (the server drains and exits), reaped; its root removed. Idempotent.
    func stop() {
        guard !stopped else { return }
        stopped = true
        Subprocess.stop(pid, signal: SIGINT, milliseconds: 10_000)
        Posix.close(output)
        Self.remove(root)
    }

    private static func create(_ path: String, _ text: String) -> Bool {
        guard let fd = try? Posix.createExclusive(path) else { return false }
        defer { Posix.close(fd) }
        let bytes = Array(text.utf8)
        let written = try? bytes.withUnsafeBytes { (buffer) throws(SystemError) -> Int in try Posix.writeBlocking(fd, buffer) }
        return written == bytes.count
    }

    private static func remove(_ root: String) {
        // Best effort on the way out: a failure leaves a small directory in /tmp, nothing more.
        _ = try? Posix.unlink(root + "/index.html")
        _ = try? Files.removeDirectory(root)
    }
}
