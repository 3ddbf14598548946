import CCorral
import CorralRuntime
import Glibc

/// `corral lab models` (seed 001, the Beowulf list, 2008): fork per connection, prefork,
/// thread per connection, a thread pool and event loops, under three workloads.
public struct ModelsExperiment: LabExperiment {
    /// Where clients and server talk; `nil`: loopback, and no `net` column.
    public var network: LabNetwork?

    public init(network: LabNetwork? = nil) { self.network = network }

    public enum Figure: String, LabFigureName {
        case requests, requestsPerSecond = "requests_per_s", errors
        case serverCPU = "server_cpu_us_per_request", serverSwitches = "server_cs_per_request"
        case serverVoluntarySwitches = "server_vcs_per_request", machineSwitches = "machine_cs_per_request"
        case held, serverTasks = "server_tasks"
        case userMemory = "user_kb_per_connection", userMemoryUncertainty = "user_kb_per_connection_uncertainty"
        case userMemoryBound = "user_kb_per_connection_below"
        case kernelMemory = "kernel_kb_per_connection", kernelMemoryUncertainty = "kernel_kb_per_connection_uncertainty"
        case kernelMemoryBound = "kernel_kb_per_connection_below"
        case retransmits, pathRTT = "path_rtt_us"
    }

    public var name: String { "models" }
    public var seed: String { "001" }
    public var title: String { "Server models: fork, prefork, threads, pool, event loops" }
    public var question: String {
        "What does a request cost in CPU time and context switches under each classic server design, with and without persistent connections, and what does an idle connection cost in memory — is forking per request still \"suicide\" and are 20 000 idle threads still \"insane\"?"
    }
    public var method: String {
        "Each run starts a fresh server process (`corral lab-worker models-server`) with one model: `fork` (a child per connection, single-threaded parent polling the listener), `prefork` (16 processes forked up front, each blocking in accept), `threads` (a detached thread per connection, 128 KiB stacks), `pool` (16 threads blocking in accept on the shared listener) or `loops` (Corral's event loops, one per CPU the server may use). "
            + "Every model answers 64-byte requests with 64 bytes over TCP (127.0.0.1, or with --net between the lab's two network namespaces). The server is pinned to the last CPU and the lab's clients to the first (when there are two), so the server's figures are one CPU's. "
            + "Workloads: `close` — 8 client threads each connect, send one request, read the answer, and the server closes (HTTP/1.0 style); `keepalive` — 8 client threads each keep one connection and send requests back to back; `idle` — the lab opens connections in batches of 500 and sends one request on each, keeping those the server answers, until it has N or a batch is not fully answered (the model holds no more). "
            + "N is 20 000 (the seed's number) for threads and loops, 2 000 for fork (a process per connection: 2 000 already shows the cost per process, and 20 000 forks take minutes), and prefork and the pool stop at their 16 workers. Descriptor limits are raised as far as the lab may; a model is skipped, with the reason, when the kernel's task limits or free memory cannot hold N. "
            + "Figures: requests/s; the server's CPU time and context switches per request from getrusage(2) of the server and its reaped children over the whole run (from ready to stop, so fork's and exit's costs are in); the machine's context switches per request (/proc/stat, client and server); for `idle`, connections held and memory per held connection: user memory as the growth of the server's private pages (Private_Clean + Private_Dirty of every process of the server), kernel memory as the growth of the machine's KernelStack + PageTables + Slab (both socket ends, thread stacks, page tables). "
            + "Each memory level is sampled 5 times before and 5 times after; a figure is shown only when the growth exceeds twice the samples' combined standard deviation (and the instrument's resolution), as value ± that uncertainty per connection; otherwise the notes give the bound it is below."
    }

    /// Idle connections asked of each model (prefork and the pool stop at their workers).
    static func idleConnections(_ model: ServerModel, quick: Bool) -> Int {
        if quick { return 300 }
        return model == .fork ? 2000 : 20_000
    }

    public func grid(quick: Bool) -> [LabPoint] {
        let models = ServerModel.allCases.map(\.rawValue)
        let seconds = quick ? "0.2" : "2"
        var load = LabGrid.product([
            ("model", models), ("workload", ["close", "keepalive"]), ("clients", ["8"]), ("seconds", [seconds]), ("connections", ["-"]),
        ])
        var idle = ServerModel.allCases.map { model -> LabPoint in
            ["model": model.rawValue, "workload": "idle", "clients": "-", "seconds": "-", "connections": "\(Self.idleConnections(model, quick: quick))"]
        }
        if let network {
            for i in load.indices { load[i]["net"] = network.description }
            for i in idle.indices { idle[i]["net"] = network.description }
        }
        return load + idle
    }

    public var columns: [LabColumn] {
        [
            .parameter("model"), .parameter("workload"), .parameter("connections", title: "N"),
            .figure(Figure.requestsPerSecond, title: "req/s", precision: 0),
            .figure(Figure.serverCPU, title: "server CPU/req", unit: "µs", precision: 1),
            .figure(Figure.serverSwitches, title: "server cswitch/req", precision: 2),
            .figure(Figure.machineSwitches, title: "all cswitch/req", precision: 2),
            .figure(Figure.errors, precision: 0),
            .figure(Figure.held, precision: 0),
            .figure(Figure.userMemory, title: "user memory/conn", unit: "KiB", precision: 1, uncertainty: Figure.userMemoryUncertainty),
            .figure(Figure.kernelMemory, title: "kernel memory/conn", unit: "KiB", precision: 1, uncertainty: Figure.kernelMemoryUncertainty),
            .figure(Figure.retransmits, title: "retrans", precision: 0),
        ] + (network == nil ? [] : [.parameter("net"), .figure(Figure.pathRTT, title: "path RTT", unit: "µs")])
    }

    public var charts: [LabChart] {
        [
            LabChart(title: "Server CPU per request", figure: Figure.serverCPU, x: "model", series: "workload", unit: "µs", logScale: true),
            LabChart(title: "Server context switches per request", figure: Figure.serverSwitches, x: "model", series: "workload"),
            LabChart(title: "Kernel memory per idle connection", figure: Figure.kernelMemory, x: "model", series: "workload", unit: "KiB", logScale: true),
            LabChart(title: "User memory per idle connection", figure: Figure.userMemory, x: "model", series: "workload", unit: "KiB", logScale: true),
        ]
    }

    public func estimatedSeconds(quick: Bool) -> Double? { quick ? 15 : 120 }

    public func run(point: LabPoint, in context: LabContext) throws -> LabFigures<Figure> {
        guard let model = point["model"].flatMap(ServerModel.init(rawValue:)), let workload = point["workload"] else {
            throw LabSkip("bad point \(point)")
        }
        let path = try context.path(for: network ?? .loopback)
        let cpus = Threads.allowedCPUs()
        let serverCPU = cpus.count > 1 ? cpus.last : nil
        let clientCPU = cpus.count > 1 ? cpus.first : nil
        let wanted = workload == "idle" ? (point.int("connections") ?? 0) : 0
        if wanted > 0 { try Self.checkCapacity(model: model, connections: wanted) }
        let server = try path.onServer {
            try ModelsServerHandle(model: model, once: workload == "close", cpu: serverCPU, host: path.serverHost, connections: wanted,
                                   ownCgroup: workload == "idle")
        }
        defer { server.kill() }
        let tcpBefore = path.tcpCounters()
        var figures: LabFigures<Figure> = [:]
        switch workload {
        case "close", "keepalive":
            guard let clients = point.int("clients"), let seconds = point.double("seconds") else { throw LabSkip("bad point \(point)") }
            let switches = ContextSwitches.machineTotal() ?? 0
            let outcome = try path.onClient {
                try ModelsClients.requests(host: path.serverHost, port: server.port, clients: clients, seconds: seconds,
                                           persistent: workload == "keepalive", cpu: clientCPU)
            }
            let machineSwitches = (ContextSwitches.machineTotal() ?? 0) &- switches
            let usage = try server.stop()
            guard outcome.requests > 0 else { throw LabSkip("no request was answered (\(outcome.errors) errors)") }
            let requests = Double(outcome.requests)
            figures[.requests] = requests
            figures[.requestsPerSecond] = requests / outcome.seconds
            figures[.errors] = Double(outcome.errors)
            figures[.serverCPU] = usage.cpuSeconds * 1e6 / requests
            figures[.serverSwitches] = Double(usage.contextSwitches.total) / requests
            figures[.serverVoluntarySwitches] = Double(usage.contextSwitches.voluntary) / requests
            figures[.machineSwitches] = Double(machineSwitches) / requests
        case "idle":
            // Both ends hold a descriptor per connection; where the hard limit cannot be raised
            // (no CAP_SYS_RESOURCE), hold what it allows and say so.
            let limit = ResourceLimits.raiseDescriptors(to: wanted + 256)
            let count = min(wanted, max(0, limit - 64))
            if count < wanted {
                context.note("Idle: \(wanted) connections were asked for, at most \(count) held: RLIMIT_NOFILE's hard limit is \(limit) here and this process may not raise it (that needs CAP_SYS_RESOURCE).")
            }
            let meter = IdleMemory(server: server)
            context.note(meter.method)
            let before = meter.samples()
            let held = try path.onClient { ModelsClients.holdIdle(host: path.serverHost, port: server.port, count: count) }
            defer { for fd in held { Posix.close(fd) } }
            let after = meter.samples()
            figures[.held] = Double(held.count)
            figures[.serverTasks] = Double(ProcessTree.privateMemory(root: server.pid).tasks)
            if !held.isEmpty, let before, let after {
                let n = Double(held.count) * 1024
                for (values, value, uncertainty, bound) in [
                    (\(user: Double, kernel: Double).user, Figure.userMemory, Figure.userMemoryUncertainty, Figure.userMemoryBound),
                    (\.kernel, .kernelMemory, .kernelMemoryUncertainty, .kernelMemoryBound),
                ] {
                    guard let d = MeasuredDifference(before: before.map { $0[keyPath: values] }, after: after.map { $0[keyPath: values] },
                                                     resolution: meter.resolution) else { continue }
                    if d.isMeasurable {
                        figures[value] = d.value / n
                        figures[uncertainty] = d.uncertainty / n
                    } else {
                        figures[bound] = (abs(d.value) + d.uncertainty) / n
                    }
                }
            }
        default:
            throw LabSkip("unknown workload \(workload)")
        }
        if let before = tcpBefore, let after = path.tcpCounters() {
            figures[.retransmits] = Double((after - before).retransmittedSegments)
        }
        if network != nil, let rtt = Statistics.median(path.pingRoundTrips.map { Double($0) }) { figures[.pathRTT] = rtt / 1000 }
        return figures
    }

    /// Skips an idle point the machine cannot hold: too few tasks left for a thread per
    /// connection, or too little free memory (about 100 KiB per connection, both ends).
    static func checkCapacity(model: ServerModel, connections: Int) throws {
        if model == .threads || model == .fork {
            let left = ResourceLimits.tasksLeft()
            if left < connections + 512 {
                throw LabSkip("\(connections) idle \(model == .fork ? "processes" : "threads") need that many tasks; kernel.pid_max and kernel.threads-max leave \(left)")
            }
        }
        let need = UInt64(connections) * 100 * 1024 + 512 << 20
        if let available = MemoryUsage.availableBytes(), available < need {
            throw LabSkip("\(connections) idle connections need about \(need >> 20) MiB free; MemAvailable is \(available >> 20) MiB")
        }
    }

    private func figure(_ points: [LabPointResult], _ model: ServerModel, _ workload: String, _ name: Figure) -> Double? {
        median(points, name, where: ["model": model.rawValue, "workload": workload])
    }

    public func todayFigures(for points: [LabPointResult]) -> [SeedFigureID: String] {
        var today: [SeedFigureID: String] = [:]
        if let threads = figure(points, .threads, "keepalive", .machineSwitches), let loops = figure(points, .loops, "keepalive", .machineSwitches) {
            today[.contextSwitchesPerRequest] = String(format: "keep-alive, client and server: %.1f (thread per connection), %.1f (event loops)", threads, loops)
        }
        if let fork = figure(points, .fork, "close", .serverCPU), let loops = figure(points, .loops, "close", .serverCPU),
           let rate = figure(points, .fork, "close", .requestsPerSecond) {
            today[.forkPerRequest] = String(format: "%.0f µs server CPU per request (%.0f req/s) vs %.0f µs with event loops: %.1f×", fork, rate, loops, fork / max(loops, 0.001))
        }
        if let held = figure(points, .threads, "idle", .held) {
            var text = String(format: "%.0f idle threads held", held)
            if let kernel = figure(points, .threads, "idle", .kernelMemory) {
                text += String(format: ", %.0f KiB of kernel memory", kernel)
                if let user = figure(points, .threads, "idle", .userMemory) { text += String(format: " and %.0f KiB of user memory", user) }
                text += " each"
            }
            if let loops = figure(points, .loops, "idle", .kernelMemory) {
                text += String(format: " (event loops: %.1f KiB per connection)", loops + (figure(points, .loops, "idle", .userMemory) ?? 0))
            }
            today[.idleThreads] = text
        }
        return today
    }

    public func notes(for points: [LabPointResult]) -> [String] {
        var notes: [String] = []
        if let fork = figure(points, .fork, "close", .serverCPU), let prefork = figure(points, .prefork, "close", .serverCPU) {
            notes.append(String(format: "One request per connection: forking costs %.0f µs of server CPU per request against %.0f µs for prefork (%.1f×): fork, exit and reaping, plus page-table copies of a large binary.", fork, prefork, fork / max(prefork, 0.001)))
        }
        if let threads = figure(points, .threads, "keepalive", .serverSwitches), let loops = figure(points, .loops, "keepalive", .serverSwitches) {
            notes.append(String(format: "Keep-alive: %.2f server context switches per request with a thread per connection, %.2f with event loops (a loop serves whatever is ready on each wake-up, so switches are shared by many requests when several clients are busy).", threads, loops))
        }
        if let prefork = figure(points, .prefork, "idle", .held),
           let wanted = points.first(where: { $0.parameters["model"] == "prefork" && $0.parameters["workload"] == "idle" })?.parameters["connections"] {
            notes.append(String(format: "Idle connections: prefork and the pool hold only as many as they have workers (%.0f of %@); the rest wait in the accept queue unanswered — the limit the seed's threads-vs-events argument is about.", prefork, wanted))
        }
        var below: [String] = []
        for model in ServerModel.allCases {
            if let bound = figure(points, model, "idle", .userMemoryBound) { below.append("\(model.rawValue) user memory < \(LabFormat.number(bound)) KiB") }
            if let bound = figure(points, model, "idle", .kernelMemoryBound) { below.append("\(model.rawValue) kernel memory < \(LabFormat.number(bound)) KiB") }
        }
        if !below.isEmpty {
            notes.append("Below noise, per held connection (growth smaller than its uncertainty, so not shown in the table): " + below.joined(separator: "; ") + ".")
        }
        notes.append("The server is pinned to one CPU and the clients to the other, so req/s is often the clients' limit; CPU and context switches per request are the comparable figures.")
        return notes
    }
}

/// Where the idle workload reads memory: a memory cgroup the lab made for the server (its own
/// memory, nothing else's), or else the machine (the server's private pages, and the machine's
/// kernel memory, which counts both ends of each connection and whatever else runs).
struct IdleMemory {
    private let cgroup: MemoryCgroup?
    private let server: pid_t

    init(server: ModelsServerHandle) {
        self.server = server.pid
        cgroup = server.cgroup
    }

    var method: String {
        guard cgroup != nil else {
            return "Idle memory per connection falls back to machine-wide figures (no memory cgroup could be made): user = the server's private pages, kernel = the machine's KernelStack + PageTables + Slab, which counts both ends of each connection and anything else that ran meanwhile."
        }
        var text = "Idle memory per connection is the server's own, from a memory cgroup the lab put it in before it made its listener: user = charged pages minus kernel memory, kernel = the cgroup's kernel memory (socket inodes, files, epoll items, thread stacks, page tables); the clients' ends are not in it."
        // The tcp_sock itself is allocated in softirq when the handshake completes and charged to no cgroup.
        if let slab = ProcFile.read("/proc/slabinfo")?.split(separator: "\n").first(where: { $0.hasPrefix("TCP ") }),
           let size = slab.split(separator: " ", omittingEmptySubsequences: true).dropFirst(3).first.flatMap({ Double($0) }) {
            text += " Not in it: each connection's tcp_sock, allocated in softirq as the handshake completes and charged to no cgroup: \(LabFormat.number(size / 1024)) KiB more per connection (its slab object size, /proc/slabinfo), whatever the model."
        }
        return text
    }

    /// Bytes: the counters' step. /proc's private pages move by pages; a memory cgroup charges
    /// in batches of 64 pages held per CPU (MEMCG_CHARGE_BATCH), so its usage can be that much
    /// off on each CPU.
    var resolution: Double { cgroup == nil ? 4096 : Double(64 * 4096 * max(1, availableCPUCount())) }

    /// Five readings, 10 ms apart (the level and its scatter); `nil` if any could not be read.
    func samples() -> [(user: Double, kernel: Double)]? {
        var values: [(user: Double, kernel: Double)] = []
        for i in 0..<5 {
            if i > 0 { LabPause.microseconds(10_000) }
            guard let value = read() else { return nil }
            values.append(value)
        }
        return values
    }

    private func read() -> (user: Double, kernel: Double)? {
        if let cgroup { return cgroup.usage() }
        // A failed read (the server gone, no descriptor left) must not pass for zero memory.
        guard let kernel = MemoryUsage.kernelBytes(), MemoryUsage.privateBytes(pid: server) != nil else { return nil }
        return (Double(ProcessTree.privateMemory(root: server).bytes), Double(kernel))
    }
}

/// A running models server: its pid, port and control socket.
final class ModelsServerHandle {
    let pid: pid_t
    let port: Int
    private var control: CInt
    /// The memory cgroup the server runs in (idle workload), removed with the server.
    private(set) var cgroup: MemoryCgroup?

    /// Starts the server. With `ownCgroup`, it is put in a memory cgroup of its own before it
    /// makes its listener or anything else (it waits for the lab's `start`), so every socket it
    /// accepts is charged there too (a socket's memory follows its listener's cgroup).
    init(model: ServerModel, once: Bool, cpu: Int?, host: String = "127.0.0.1", connections: Int = 0, ownCgroup: Bool = false) throws {
        let (mine, theirs) = try Posix.socketpair(domain: AF_UNIX, type: CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue))
        let arguments = ["models-server", "--model", model.rawValue, "--once", once ? "1" : "0", "--workers", "16", "--cpu", "\(cpu ?? -1)",
                         "--host", host, "--connections", "\(connections)", "--wait", ownCgroup ? "1" : "0"]
        do {
            pid = try LabWorker.spawn(arguments, fds: [theirs])
        } catch {
            Posix.close(mine)
            Posix.close(theirs)
            throw error
        }
        Posix.close(theirs)
        var failure: String?
        do {
            // Lines are read after poll(2) says so.
            try Posix.fcntlSetFlags(mine, try Posix.fcntlGetFlags(mine) & ~O_NONBLOCK)
            if ownCgroup {
                cgroup = MemoryCgroup.create(holding: pid, label: "models")
                if !ModelsProtocol.writeLine(mine, "start") { failure = "its control socket refused `start`" }
            }
        } catch {
            failure = "\(error)"
        }
        let line = failure == nil ? Self.readLine(mine, milliseconds: 10_000) : nil
        guard let line, line.hasPrefix("ready "), let port = Int(line.dropFirst(6)) else {
            Posix.close(mine)
            Subprocess.reap(pid, milliseconds: 1000)
            cgroup?.remove()
            throw LabSkip("the \(model.rawValue) server did not start: \(failure ?? line ?? "no answer in 10 s")")
        }
        control = mine
        self.port = port
    }

    /// Asks the server to stop and returns its resource usage since it was ready.
    func stop() throws -> ResourceUsage {
        // A failed shutdown (the server already gone) leaves readLine to find no usage line.
        let line = (try? Posix.shutdown(control, how: CInt(SHUT_WR))) != nil ? Self.readLine(control, milliseconds: 30_000) : nil
        kill()
        guard let line, line.hasPrefix("usage "), let usage = ResourceUsage(modelsLine: String(line.dropFirst(6))) else {
            throw LabSkip("the server did not report its usage (\(line ?? "no answer"))")
        }
        return usage
    }

    /// Ends the server (if still running) and reaps it. Idempotent.
    func kill() {
        guard control >= 0 else { return }
        Posix.close(control)
        control = -1
        Subprocess.reap(pid, milliseconds: 5000)
        cgroup?.remove()
        cgroup = nil
    }

    /// One line from `fd` within `milliseconds`, or nil.
    private static func readLine(_ fd: CInt, milliseconds: Int) -> String? {
        guard waitReadable(fd, until: deadline(afterMilliseconds: milliseconds)) else { return nil }
        return ModelsProtocol.readLine(fd)  // the server writes whole lines at once
    }
}
