import CCorral
import CorralRuntime
import Glibc

/// `corral lab models` (seed 001, the Beowulf list, 2008): fork per connection, prefork,
/// thread per connection, a thread pool and event loops, under three workloads.
public struct ModelsExperiment: LabExperiment {
    public init() {}

    public var name: String { "models" }
    public var seed: String { "001" }
    public var title: String { "Server models: fork, prefork, threads, pool, event loops" }
    public var question: String {
        "What does a request cost in CPU time and context switches under each classic server design, with and without persistent connections, and what does an idle connection cost in memory — is forking per request still \"suicide\" and are thousands of idle threads still \"insane\"?"
    }
    public var method: String {
        "Each run starts a fresh server process (`corral lab-worker models-server`) with one model: `fork` (a child per connection, single-threaded parent polling the listener), `prefork` (16 processes forked up front, each blocking in accept), `threads` (a detached thread per connection, 128 KiB stacks), `pool` (16 threads blocking in accept on the shared listener) or `loops` (Corral's event loops, one per CPU the server may use). "
            + "Every model answers 64-byte requests with 64 bytes over TCP on 127.0.0.1. The server is pinned to the last CPU and the lab's clients to the first (when there are two), so the server's figures are one CPU's. "
            + "Workloads: `close` — 8 client threads each connect, send one request, read the answer, and the server closes (HTTP/1.0 style); `keepalive` — 8 client threads each keep one connection and send requests back to back; `idle` — the lab opens connections in batches of 500 and sends one request on each, keeping those the server answers, until it has N or a batch is not fully answered (the model holds no more). "
            + "Figures: requests/s; the server's CPU time and context switches per request from getrusage(2) of the server and its reaped children over the whole run (from ready to stop, so fork's and exit's costs are in); the machine's context switches per request (/proc/stat, client and server); for `idle`, connections held, and memory per held connection as Pss of the server and its children (user space) and as the drop in MemAvailable (which also counts kernel memory: both ends' sockets, task structures, page tables)."
    }

    public func grid(quick: Bool) -> [LabPoint] {
        let models = ServerModel.allCases.map(\.rawValue)
        let seconds = quick ? "0.3" : "2"
        let load = LabGrid.product([
            ("model", models), ("workload", ["close", "keepalive"]), ("clients", ["8"]), ("seconds", [seconds]), ("connections", ["-"]),
        ])
        let idle = LabGrid.product([
            ("model", models), ("workload", ["idle"]), ("clients", ["-"]), ("seconds", ["-"]), ("connections", [quick ? "300" : "10000"]),
        ])
        return load + idle
    }

    public var columns: [LabColumn] {
        [
            .parameter("model"), .parameter("workload"), .parameter("connections", title: "N"),
            .figure("requests_per_s", title: "req/s", precision: 0),
            .figure("server_cpu_us_per_request", title: "server CPU/req", unit: "µs", precision: 1),
            .figure("server_cs_per_request", title: "server cswitch/req", precision: 2),
            .figure("machine_cs_per_request", title: "all cswitch/req", precision: 2),
            .figure("errors", precision: 0),
            .figure("held", precision: 0),
            .figure("pss_kb_per_connection", title: "Pss/conn", unit: "KiB", precision: 1),
            .figure("memory_kb_per_connection", title: "memory/conn", unit: "KiB", precision: 1),
        ]
    }

    public var charts: [LabChart] {
        [
            LabChart(title: "Server CPU per request", figure: "server_cpu_us_per_request", x: "model", series: "workload", unit: "µs", logScale: true),
            LabChart(title: "Server context switches per request", figure: "server_cs_per_request", x: "model", series: "workload"),
            LabChart(title: "Memory per idle connection (MemAvailable)", figure: "memory_kb_per_connection", x: "model", series: "workload", unit: "KiB", logScale: true),
        ]
    }

    public func estimatedSeconds(quick: Bool) -> Double? { quick ? 16 : 90 }

    public func run(point: LabPoint) throws -> [String: Double] {
        guard let model = point["model"].flatMap(ServerModel.init(rawValue:)), let workload = point["workload"] else {
            throw LabSkip("bad point \(point)")
        }
        let cpus = Threads.allowedCPUs()
        let serverCPU = cpus.count > 1 ? cpus.last : nil
        let clientCPU = cpus.count > 1 ? cpus.first : nil
        let server = try ModelsServerHandle(model: model, once: workload == "close", cpu: serverCPU)
        defer { server.kill() }
        var figures: [String: Double] = [:]
        switch workload {
        case "close", "keepalive":
            guard let clients = point.int("clients"), let seconds = point.double("seconds") else { throw LabSkip("bad point \(point)") }
            let switches = ContextSwitches.machineTotal() ?? 0
            let outcome = try ModelsClients.requests(
                port: server.port, clients: clients, seconds: seconds, persistent: workload == "keepalive", cpu: clientCPU)
            let machineSwitches = (ContextSwitches.machineTotal() ?? 0) &- switches
            let usage = try server.stop()
            guard outcome.requests > 0 else { throw LabSkip("no request was answered (\(outcome.errors) errors)") }
            let requests = Double(outcome.requests)
            figures["requests"] = requests
            figures["requests_per_s"] = requests / outcome.seconds
            figures["errors"] = Double(outcome.errors)
            figures["server_cpu_us_per_request"] = usage.cpuSeconds * 1e6 / requests
            figures["server_cs_per_request"] = Double(usage.contextSwitches.total) / requests
            figures["server_vcs_per_request"] = Double(usage.contextSwitches.voluntary) / requests
            figures["machine_cs_per_request"] = Double(machineSwitches) / requests
        case "idle":
            guard let count = point.int("connections") else { throw LabSkip("bad point \(point)") }
            ModelsServerProcess.raiseDescriptorLimit()
            let before = ProcessTree.pss(root: server.pid)
            let availableBefore = MemoryUsage.availableBytes() ?? 0
            let held = ModelsClients.holdIdle(port: server.port, count: count)
            defer { for fd in held { close(fd) } }
            let after = ProcessTree.pss(root: server.pid)
            let availableAfter = MemoryUsage.availableBytes() ?? 0
            figures["held"] = Double(held.count)
            figures["server_tasks"] = Double(after.tasks)
            if !held.isEmpty {
                figures["pss_kb_per_connection"] = (Double(after.bytes) - Double(before.bytes)) / 1024 / Double(held.count)
            }
            // MemAvailable moves by megabytes on its own: below 100 connections it is noise.
            if held.count >= 100 {
                figures["memory_kb_per_connection"] = (Double(availableBefore) - Double(availableAfter)) / 1024 / Double(held.count)
            }
        default:
            throw LabSkip("unknown workload \(workload)")
        }
        return figures
    }

    public func todayFigures(for points: [LabPointResult]) -> [String: String] {
        func figure(_ model: ServerModel, _ workload: String, _ key: String) -> Double? {
            points.first { $0.parameters["model"] == model.rawValue && $0.parameters["workload"] == workload }?.median(key)
        }
        var today: [String: String] = [:]
        if let threads = figure(.threads, "keepalive", "machine_cs_per_request"), let loops = figure(.loops, "keepalive", "machine_cs_per_request") {
            today["ctx_per_request"] = String(format: "keep-alive, client and server: %.1f (thread per connection), %.1f (event loops)", threads, loops)
        }
        if let fork = figure(.fork, "close", "server_cpu_us_per_request"), let loops = figure(.loops, "close", "server_cpu_us_per_request"),
           let rate = figure(.fork, "close", "requests_per_s") {
            today["fork_per_request"] = String(format: "%.0f µs server CPU per request (%.0f req/s) vs %.0f µs with event loops: %.1f×", fork, rate, loops, fork / max(loops, 0.001))
        }
        if let held = figure(.threads, "idle", "held"), let memory = figure(.threads, "idle", "memory_kb_per_connection") {
            let loops = figure(.loops, "idle", "memory_kb_per_connection")
            today["idle_threads"] = String(format: "%.0f idle threads held, %.0f KiB each", held, memory)
                + (loops.map { String(format: " (event loops: %.1f KiB per connection)", $0) } ?? "")
        }
        return today
    }

    public func notes(for points: [LabPointResult]) -> [String] {
        func figure(_ model: ServerModel, _ workload: String, _ key: String) -> Double? {
            points.first { $0.parameters["model"] == model.rawValue && $0.parameters["workload"] == workload }?.median(key)
        }
        var notes: [String] = []
        if let fork = figure(.fork, "close", "server_cpu_us_per_request"), let prefork = figure(.prefork, "close", "server_cpu_us_per_request") {
            notes.append(String(format: "One request per connection: forking costs %.0f µs of server CPU per request against %.0f µs for prefork (%.1f×): fork, exit and reaping, plus page-table copies of a large binary.", fork, prefork, fork / max(prefork, 0.001)))
        }
        if let threads = figure(.threads, "keepalive", "server_cs_per_request"), let loops = figure(.loops, "keepalive", "server_cs_per_request") {
            notes.append(String(format: "Keep-alive: %.2f server context switches per request with a thread per connection, %.2f with event loops (a loop serves whatever is ready on each wake-up, so switches are shared by many requests when several clients are busy).", threads, loops))
        }
        if let prefork = figure(.prefork, "idle", "held"), let wanted = points.first(where: { $0.parameters["workload"] == "idle" })?.parameters["connections"] {
            notes.append(String(format: "Idle connections: prefork and the pool hold only as many as they have workers (%.0f of %@); the rest wait in the accept queue unanswered — the limit the seed's threads-vs-events argument is about.", prefork, wanted))
        }
        notes.append("The server is pinned to one CPU and the clients to the other, so req/s is often the clients' limit; CPU and context switches per request are the comparable figures.")
        return notes
    }
}

/// A running models server: its pid, port and control socket.
final class ModelsServerHandle {
    let pid: pid_t
    let port: Int
    private var control: CInt

    init(model: ServerModel, once: Bool, cpu: Int?) throws {
        let (mine, theirs) = try Posix.socketpair(domain: AF_UNIX, type: CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue))
        let arguments = ["models-server", "--model", model.rawValue, "--once", once ? "1" : "0", "--workers", "16", "--cpu", "\(cpu ?? -1)"]
        do {
            pid = try LabWorker.spawn(arguments, fds: [theirs])
        } catch {
            close(mine)
            close(theirs)
            throw error
        }
        close(theirs)
        _ = fcntl(mine, F_SETFL, fcntl(mine, F_GETFL) & ~O_NONBLOCK)  // lines are read after poll(2) says so
        let line = Self.readLine(mine, milliseconds: 10_000)
        guard let line, line.hasPrefix("ready "), let port = Int(line.dropFirst(6)) else {
            close(mine)
            LabWorker.reap(pid, milliseconds: 1000)
            throw LabSkip("the \(model.rawValue) server did not start: \(line ?? "no answer in 10 s")")
        }
        control = mine
        self.port = port
    }

    /// Asks the server to stop and returns its resource usage since it was ready.
    func stop() throws -> ResourceUsage {
        shutdown(control, CInt(SHUT_WR))
        let line = Self.readLine(control, milliseconds: 30_000)
        kill()
        guard let line, line.hasPrefix("usage "), let usage = ResourceUsage(modelsLine: String(line.dropFirst(6))) else {
            throw LabSkip("the server did not report its usage (\(line ?? "no answer"))")
        }
        return usage
    }

    /// Ends the server (if still running) and reaps it. Idempotent.
    func kill() {
        guard control >= 0 else { return }
        close(control)
        control = -1
        LabWorker.reap(pid, milliseconds: 5000)
    }

    /// One line from `fd` within `milliseconds`, or nil.
    private static func readLine(_ fd: CInt, milliseconds: Int) -> String? {
        guard waitReadable(fd, until: deadline(afterMilliseconds: milliseconds)) else { return nil }
        return ModelsProtocol.readLine(fd)  // the server writes whole lines at once
    }
}
