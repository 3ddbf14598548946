import CCorral
import CorralRuntime
import Glibc
import Synchronization

/// `corral lab balance` (seed 003, "How not to load-balance connections with accept()"): how
/// evenly connections and requests land on W workers, per accept strategy (Corral's and
/// nginx's) and load shape, and what the balancing costs in latency.
public struct BalanceExperiment: LabExperiment {
    /// Where clients and server talk; `nil`: loopback, and no `net` column.
    public var network: LabNetwork?

    public init(network: LabNetwork? = nil) { self.network = network }

    public enum Figure: String, LabFigureName {
        case connJain = "conn_jain", connMaxMin = "conn_maxmin", connMaxShare = "conn_max_share_pct", idleWorkers = "idle_workers"
        case reqJain = "req_jain", reqMaxMin = "req_maxmin", reqMaxShare = "req_max_share_pct", connections, requests
        case p50 = "p50_us", p99 = "p99_us"
        case acceptQueueMax = "accept_queue_max", retransmits, pathRTT = "path_rtt_us"
    }

    public var name: String { "balance" }
    public var seed: String { "003" }
    public var title: String { "Load-balancing connections with accept()" }
    public var question: String {
        "Do W workers waiting on one listener get an even share of connections and requests, or do connections pile onto one worker — in Corral's strategies and in nginx — and does the seed's random-sleep hack (or Corral's dispatch) spread them without adding latency?"
    }
    public var method: String {
        "W workers = W event loops (for `blocking`, W threads blocked in accept(2), thread i handing to loop i; for `blocking+jitter`, W such threads written in the experiment, each sleeping a random 0–20 ms before every accept(2), the seed's LD_PRELOAD hack; for the nginx rows, W nginx worker processes: \(NginxSettings.variants.map { "`\($0.name)` \($0.settings.summary)" }.joined(separator: "; "))). "
            + "Corral's servers echo one byte per request; nginx answers `GET /` with a one-byte body (so its latencies include HTTP). Loads: `sequential`, one client making connections one after another (connect, one round trip, close; 100 quick / 200 full); "
            + "`concurrent`, 2W client threads (at most 32, released together from a gate) each making short connections the same way (25 / 50 each); "
            + "`keepalive`, 2W client threads (released together) each holding one connection for 100 / 300 round trips. Over an emulated wire the counts shrink so a run stays near a second. "
            + "Connections per worker are the loops' acceptedConnections, requests per worker the handler's counts on each loop; nginx's workers log `$pid $connection $connection_requests` per request, and the lab counts the log. "
            + "Figures: Jain's fairness index (Σx)²/(n·Σx²) of the per-worker counts (1 = even, 1/W = one worker took everything), max/min ratio (blank when a worker got nothing: see idle workers), the busiest worker's share, latency (connect() to the first reply for the short-connection loads, the round trip for keepalive), "
            + "the deepest accept queue seen (tcp_diag, as `ss -lt` shows Recv-Q, sampled every millisecond), and TCP retransmissions during the run (/proc/net/snmp of the namespaces involved; on loopback the machine's)."
    }

    static let strategies = ["blocking", "blocking+jitter", "shared", "exclusive", "reuseport", "dispatch", "dispatch-fewest"]
    static let loads = ["sequential", "concurrent", "keepalive"]

    public func grid(quick: Bool) -> [LabPoint] {
        let nginx = NginxSettings.variants.map(\.name)
        var axes: [(name: String, values: [String])] = [
            ("workers", quick ? ["4"] : ["4", "16"]),
            ("load", Self.loads),
            ("strategy", Self.strategies + (quick ? Array(nginx.prefix(2)) : nginx)),
            ("scale", [quick ? "quick" : "full"]),
        ]
        if let network { axes.append(("net", [network.description])) }
        return LabGrid.product(axes)
    }

    public var columns: [LabColumn] {
        [
            .parameter("workers", title: "W"), .parameter("load"), .parameter("strategy"),
            .figure(Figure.connJain, title: "conn J", precision: 3),
            .figure(Figure.connMaxMin, title: "conn max/min", precision: 2),
            .figure(Figure.connMaxShare, title: "busiest", unit: "%", precision: 1),
            .figure(Figure.idleWorkers, title: "idle workers", precision: 1),
            .figure(Figure.reqJain, title: "req J", precision: 3),
            .figure(Figure.p50, title: "latency p50", unit: "µs"),
            .figure(Figure.p99, title: "latency p99", unit: "µs"),
            .figure(Figure.acceptQueueMax, title: "accept queue max", precision: 0),
            .figure(Figure.retransmits, title: "retrans", precision: 0),
        ] + (network == nil ? [] : [.parameter("net"), .figure(Figure.pathRTT, title: "path RTT", unit: "µs")])
    }

    public var charts: [LabChart] {
        [
            LabChart(title: "Jain's fairness of connections per worker", figure: Figure.connJain, x: "strategy", series: "load"),
            LabChart(title: "Jain's fairness of requests per worker", figure: Figure.reqJain, x: "strategy", series: "load"),
            LabChart(title: "Busiest worker's share of connections", figure: Figure.connMaxShare, x: "strategy", series: "load", unit: "%"),
            LabChart(title: "Latency p50", figure: Figure.p50, x: "strategy", series: "load", unit: "µs", logScale: true),
            LabChart(title: "Latency p99", figure: Figure.p99, x: "strategy", series: "load", unit: "µs", logScale: true),
            LabChart(title: "Deepest accept queue", figure: Figure.acceptQueueMax, x: "strategy", series: "load"),
        ]
    }

    public func estimatedSeconds(quick: Bool) -> Double? {
        let base = quick ? 5.0 : 25
        return base + Double(network?.addedRoundTripNanoseconds ?? 0) / 1e9 * (quick ? 1000 : 4000)
    }

    public func run(point: LabPoint, in context: LabContext) throws -> LabFigures<Figure> {
        guard let workers = point.int("workers"), workers > 0, let strategy = point["strategy"],
              let load = point["load"] else { throw AcceptLabError("bad point \(point)") }
        let path = try context.path(for: network ?? .loopback)
        let run = BalanceRun(workers: workers, strategy: strategy, load: load, quick: point["scale"] == "quick", path: path)
        var figures = try run.measure()
        if network != nil, let rtt = Statistics.median(path.pingRoundTrips.map { Double($0) }) { figures[.pathRTT] = rtt / 1000 }
        return figures
    }

    // MARK: report

    private func find(_ points: [LabPointResult], _ w: String, _ load: String, _ s: String) -> LabPointResult? {
        points.first { $0.parameters["workers"] == w && $0.parameters["load"] == load && $0.parameters["strategy"] == s }
    }

    public func todayFigures(for points: [LabPointResult]) -> [SeedFigureID: String] {
        var today: [SeedFigureID: String] = [:]
        let w = points.first?.parameters["workers"] ?? "4"
        if let ex = find(points, w, "sequential", "exclusive"), let share = ex.median(Figure.connMaxShare), let j = ex.median(Figure.connJain) {
            var text = "EPOLLEXCLUSIVE, W=\(w), sequential: busiest worker \(LabFormat.number(share, precision: 0)) % of connections, J = \(LabFormat.number(j, precision: 2))"
            if let bl = find(points, w, "sequential", "blocking")?.median(Figure.connJain) {
                text += " (blocking accept, FIFO: J = \(LabFormat.number(bl, precision: 2)))"
            }
            if let ng = find(points, w, "sequential", "nginx")?.median(Figure.connMaxShare) {
                text += "; nginx (accept_mutex off): busiest worker \(LabFormat.number(ng, precision: 0)) %"
            }
            today[.lifoPileup] = text
        }
        if let jit = find(points, w, "sequential", "blocking+jitter"), let j = jit.median(Figure.connJain), let p50 = jit.median(Figure.p50) {
            var text = "W=\(w), sequential: J = \(LabFormat.number(j, precision: 2)), p50 \(LabFormat.number(p50 / 1000)) ms"
            if let bl = find(points, w, "sequential", "blocking")?.median(Figure.p50) {
                text += " vs \(LabFormat.number(bl)) µs without the sleep"
            }
            today[.randomSleep] = text
        }
        return today
    }

    private func signed(_ x: Double) -> String { (x < 0 ? "−" : "+") + LabFormat.number(abs(x)) }

    public func notes(for points: [LabPointResult]) -> [String] {
        var notes: [String] = []
        let ws = points.compactMap { $0.parameters["workers"] }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        func fairness(_ p: LabPointResult, _ load: String) -> String {
            p.median(load == "keepalive" ? Figure.reqJain : Figure.connJain).map { LabFormat.number($0, precision: 2) } ?? "–"
        }
        for w in ws {
            for load in Self.loads {
                guard let base = find(points, w, load, "blocking"), let b50 = base.median(Figure.p50), let b99 = base.median(Figure.p99) else { continue }
                var parts: [String] = []
                for s in Self.strategies.dropFirst() {
                    guard let p = find(points, w, load, s), let p50 = p.median(Figure.p50), let p99 = p.median(Figure.p99) else { continue }
                    parts.append("\(s) J \(fairness(p, load)), \(signed(p50 - b50)) / \(signed(p99 - b99)) µs")
                }
                notes.append("W=\(w), \(load): blocking J \(fairness(base, load)), p50/p99 \(LabFormat.number(b50)) / \(LabFormat.number(b99)) µs; added p50/p99 vs blocking: " + parts.joined(separator: "; ") + ".")
                let nginx = NginxSettings.variants.compactMap { v in find(points, w, load, v.name).map { "\(v.name) J \(fairness($0, load))" } }
                if !nginx.isEmpty { notes.append("W=\(w), \(load), nginx: " + nginx.joined(separator: "; ") + ".") }
            }
        }
        notes.append(
            "Blocking accept(2) queues its waiters FIFO (prepare_to_wait_exclusive adds at the tail), so connections go round the workers. An epoll instance that waits on the listener with EPOLLEXCLUSIVE sits on the listener's wait queue in the order it was registered, and the kernel wakes the first one with a thread asleep in it (ep_poll_callback counts a wake only there): under a light load the same loop, the first registered that is idle, takes connection after connection — the seed's pile-up, on Linux, though from a fixed order rather than the LIFO sleep queue the seed describes.")
        for w in ws {
            // The pile-up: the busiest worker takes more than twice its fair share.
            let fair = 100 / (Double(w) ?? 1)
            var parts: [String] = []
            for load in Self.loads {
                guard let share = find(points, w, load, "nginx")?.median(load == "keepalive" ? Figure.reqMaxShare : Figure.connMaxShare) else { continue }
                parts.append("\(load) \(LabFormat.number(share, precision: 0)) %\(share > 2 * fair ? " (piled up)" : "")")
            }
            guard !parts.isEmpty else { continue }
            notes.append("nginx with accept_mutex off (its default since 1.11.3) puts the listener in every worker's epoll with EPOLLEXCLUSIVE. W=\(w), the busiest worker's share of connections (of requests for keepalive), fair = \(LabFormat.number(fair, precision: 0)) %: " + parts.joined(separator: ", ") + ". accept_mutex on hands the listener to one worker at a time, so under a light load one worker takes nearly everything; reuseport gives each worker its own queue, spread by the kernel's hash.")
        }
        notes.append(
            "FIFO only helps waiters that are asleep: when connections arrive together (keepalive, concurrent), a thread that has just accepted finds the next connection already queued and takes it without sleeping, so blocking accept piles up too; the hack's sleep, and dispatch, break that.")
        notes.append(
            "The seed's random 0–20 ms sleep before accept spreads connections because whoever is not asleep gets the next one, but every connection that arrives while all workers sleep waits for the first to wake: the spread is paid for in latency (and in the accept queue, which fills while they sleep).")
        notes.append(
            "SO_REUSEPORT spreads by a hash of the 4-tuple: even on average, uneven for few connections, and it cannot route around a busy worker. dispatch hands connections out round-robin from loop 0; dispatch-fewest picks the loop with the fewest open connections, so it balances what is open now, not the totals counted here: a loop whose clients finished early takes more.")
        return notes
    }
}

/// Echoes every byte; counts one request per byte on its worker.
final class BalanceHandler: ConnectionHandler {
    let worker: Int
    let counts: WorkerCounters
    init(worker: Int, counts: WorkerCounters) {
        self.worker = worker
        self.counts = counts
    }

    func connection(_ connection: Connection, didRead buffer: UnsafeRawBufferPointer) -> Int {
        counts.add(buffer.count, worker: worker)
        connection.write(buffer)
        connection.flush()
        return buffer.count
    }
}

/// The seed's hack: W threads blocked in accept(2), each sleeping a random 0–20 ms first
/// (`poll(0, 0, drand48() * 21.0)`), handing thread i's connections to loop i.
final class JitterAcceptor: @unchecked Sendable {
    let fd: CInt
    let address: SocketAddress
    private var threads: [pthread_t] = []

    init(group: EventLoopGroup, host: String, handler: @escaping @Sendable (EventLoop) -> any ConnectionHandler) throws {
        fd = try Posix.socket(domain: AF_INET, type: ccorral_SOCK_STREAM, blocking: true)
        do {
            try Posix.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, CInt(1))
            try Posix.bind(fd, .ipv4(host: host, port: 0))
            try Posix.listen(fd, backlog: 1024)
            address = try Posix.getsockname(fd)
        } catch {
            Posix.close(fd)
            throw error
        }
        let fd = self.fd
        for (i, loop) in group.loops.enumerated() {
            let thread = try Threads.spawn(name: "corral-accept-j\(i)") {
                var none: [pollfd] = []
                while true {
                    _ = try? Posix.poll(&none, milliseconds: Int32.random(in: 0...20))  // the hack being measured: a sleep
                    do throws(SystemError) {
                        guard case .processed(let connection) = try Posix.accept4(fd) else { continue }
                        loop.execute { Connection.adopt(OwnedDescriptor(adopting: connection), on: loop, handler: handler(loop)) }
                    } catch where error.errno == .connectionAbort {
                        continue
                    } catch {
                        return  // EINVAL after shutdown(2): stop
                    }
                }
            }
            threads.append(thread)
        }
    }

    func stop() {
        // Wakes the threads blocked in accept(2) (they then get EINVAL). It cannot fail on a
        // listening socket; if it did, the joins below would hang, so that is worth a crash.
        do { try Posix.shutdown(fd, how: CInt(SHUT_RDWR)) } catch { preconditionFailure("shutdown of the jitter listener: \(error)") }
        for thread in threads { Threads.join(thread) }
        threads = []
        Posix.close(fd)
    }
}

/// One measurement of one balance point.
struct BalanceRun {
    typealias Figure = BalanceExperiment.Figure
    let workers: Int
    let strategy: String
    let load: String
    let quick: Bool
    let path: LabNetworkPath

    /// A server under test: where it listens, per-worker counts once the load is done, its accept queue.
    private struct Server {
        let address: SocketAddress
        let diag: CInt
        let http: Bool
        let shares: (_ requests: Int) throws -> (connections: [Double], requests: [Double])
        let stop: () -> Void
    }

    func measure() throws -> LabFigures<Figure> {
        let tcpBefore = path.tcpCounters()
        let server = try path.onServer { try startServer() }
        defer { server.stop() }
        let sampler = try AcceptQueueSampler(diag: server.diag, port: server.address.port ?? 0)
        let clients = min(32, 2 * workers)
        // Over a slow link, fewer connections: a run stays near a second.
        let rtt = Double(max(path.network.addedRoundTripNanoseconds, 100_000)) / 1e9
        func scaled(_ count: Int, roundTrips: Double) -> Int { max(10, min(count, Int(1.0 / (rtt * roundTrips)))) }
        let sequential = scaled(quick ? 100 : 200, roundTrips: 2)
        let perClient = scaled(quick ? 25 : 50, roundTrips: 2)
        let requests = scaled(quick ? 100 : 300, roundTrips: 1)
        let http = server.http
        let address = server.address
        let (latencies, total): ([Double], Int) = try path.onClient {
            switch load {
            case "sequential":
                return (try Self.shortConnections(address, count: sequential, http: http), sequential)
            case "concurrent":
                return (try Self.onThreads(clients) { try Self.shortConnections(address, count: perClient, http: http) }, clients * perClient)
            case "keepalive":
                return (try Self.onThreads(clients) { try Self.keepAlive(address, requests: requests, http: http) }, clients * requests)
            default:
                throw AcceptLabError("unknown load \(load)")
            }
        }
        let queue = sampler.stop()
        let (perConnection, perRequest) = try server.shares(total)
        let connections = perConnection.reduce(0, +)
        var figures: LabFigures<Figure> = [
            .connJain: Statistics.jainFairness(perConnection) ?? 0,
            .connMaxMin: Statistics.maxMinRatio(perConnection) ?? .infinity,
            .connMaxShare: connections > 0 ? 100 * (perConnection.max() ?? 0) / connections : 0,
            .idleWorkers: Double(perConnection.filter { $0 == 0 }.count),
            .reqJain: Statistics.jainFairness(perRequest) ?? 0,
            .reqMaxMin: Statistics.maxMinRatio(perRequest) ?? .infinity,
            .reqMaxShare: perRequest.reduce(0, +) > 0 ? 100 * (perRequest.max() ?? 0) / perRequest.reduce(0, +) : 0,
            .connections: connections,
            .requests: perRequest.reduce(0, +),
            .acceptQueueMax: Double(queue),
        ]
        let p = Statistics.percentiles(latencies, [50, 99]) ?? [0, 0]
        figures[.p50] = p[0] / 1000
        figures[.p99] = p[1] / 1000
        if let before = tcpBefore, let after = path.tcpCounters() {
            figures[.retransmits] = Double((after - before).retransmittedSegments)
        }
        return figures
    }

    /// Starts the server for `strategy` on the calling thread's side of the path.
    private func startServer() throws -> Server {
        let diag = try SockDiag.open()
        do {
            if let settings = NginxSettings.named(strategy) {
                let nginx = try NginxServer(workers: workers, settings: settings, host: path.serverHost)
                return Server(address: .ipv4(host: path.serverHost, port: nginx.port), diag: diag, http: true,
                              shares: { requests in
                                  let shares = try nginx.shares(expectingRequests: requests)
                                  return (shares.connections.map(Double.init), shares.requests.map(Double.init))
                              },
                              stop: { nginx.stop(); Posix.close(diag) })
            }
            return try startCorral(diag: diag)
        } catch {
            Posix.close(diag)
            throw error
        }
    }

    private func startCorral(diag: CInt) throws -> Server {
        let before = ServerThreads.currentTIDs()
        let group = try EventLoopGroup(loopCount: workers)
        try group.start()
        let counts = WorkerCounters(workers: workers)
        let factory: @Sendable (EventLoop) -> any ConnectionHandler = { loop in
            BalanceHandler(worker: loop.index, counts: counts)
        }
        let address: SocketAddress
        var stop: () -> Void
        do {
            if strategy == "blocking+jitter" {
                let acceptor = try JitterAcceptor(group: group, host: path.serverHost, handler: factory)
                address = acceptor.address
                stop = { acceptor.stop() }
            } else {
                guard let s = AcceptStrategy(name: strategy) else { throw AcceptLabError("unknown strategy \(strategy)") }
                var options = ListenerOptions()
                options.blockingThreads = workers
                options.backlog = 1024
                let listener = Listener(group: group, address: .ipv4(host: path.serverHost, port: 0), strategy: s, options: options, handler: factory)
                address = try listener.start()
                stop = { listener.stop() }
            }
            // Every loop has registered its acceptor and every server thread is waiting.
            try runOnEveryLoop(group.loops)
        } catch {
            group.shutdown()
            throw error
        }
        ServerThreads.new(since: before, prefixes: ["corral-loop", "corral-accept"]).waitUntilAllSleeping()
        return Server(address: address, diag: diag, http: false,
                      shares: { _ in (group.loops.map { Double($0.stats.acceptedConnections) }, counts.values.map(Double.init)) },
                      stop: {
                          stop()
                          group.shutdown()
                          Posix.close(diag)
                      })
    }

    /// `count` connections one after another: connect, one round trip, close. Latency: connect()
    /// to the reply.
    private static func shortConnections(_ address: SocketAddress, count: Int, http: Bool) throws -> [Double] {
        var latencies: [Double] = []
        latencies.reserveCapacity(count)
        for _ in 0..<count {
            let start = monotonicNanoseconds()
            let fd = try LabClient.connect(address)
            defer { Posix.close(fd) }
            try http ? LabClient.httpRoundTrip(fd) : LabClient.roundTrip(fd)
            latencies.append(Double(monotonicNanoseconds() - start))
        }
        return latencies
    }

    /// One connection, `requests` round trips. Latency: each round trip.
    private static func keepAlive(_ address: SocketAddress, requests: Int, http: Bool) throws -> [Double] {
        let fd = try LabClient.connect(address)
        defer { Posix.close(fd) }
        var latencies: [Double] = []
        latencies.reserveCapacity(requests)
        for _ in 0..<requests {
            let start = monotonicNanoseconds()
            try http ? LabClient.httpRoundTrip(fd) : LabClient.roundTrip(fd)
            latencies.append(Double(monotonicNanoseconds() - start))
        }
        return latencies
    }

    /// Runs `body` on `count` client threads at once and gathers their latencies. Each thread
    /// keeps its own result, read after the joins (nothing shared while they run).
    private static func onThreads(_ count: Int, _ body: @escaping @Sendable () throws -> [Double]) throws -> [Double] {
        let results = (0..<count).map { _ in ResultBox<[Double]>() }
        let gate = try LabGate()
        var threads: [pthread_t] = []
        defer {
            gate.open()
            for t in threads { Threads.join(t) }
        }
        for (i, result) in results.enumerated() {
            threads.append(try Threads.spawn(name: "lab-client-\(i)") {
                result.result = Result {
                    guard gate.wait() else { throw AcceptLabError("start gate never opened") }
                    return try body()
                }
            })
        }
        gate.open()
        for t in threads { Threads.join(t) }
        threads = []
        var latencies: [Double] = []
        var errors: [String] = []
        for result in results {
            switch result.result {
            case .success(let l)?: latencies += l
            case .failure(let error)?: errors.append("\(error)")
            case nil: errors.append("a client thread did not finish")
            }
        }
        if let first = errors.first { throw AcceptLabError("\(errors.count) client(s) failed: \(first)") }
        return latencies
    }
}

/// Samples the accept queue of a listening port every millisecond (tcp_diag, the Recv-Q of
/// `ss -lt`; summed over SO_REUSEPORT members) on a thread of its own, for the length of a run.
final class AcceptQueueSampler: @unchecked Sendable {
    private let stopGate: LabGate
    private var thread: pthread_t?
    private let deepest = Deepest()

    private final class Deepest: Sendable {
        let value = Atomic<UInt32>(0)
    }

    init(diag: CInt, port: UInt16) throws {
        let gate = try LabGate()
        stopGate = gate
        thread = try Threads.spawn(name: "lab-acceptq") { [deepest] in
            while true {
                let queued = ((try? SockDiag.listeners(diag, port: port)) ?? []).reduce(0) { $0 + $1.queued }
                if queued > deepest.value.load(ordering: .relaxed) { deepest.value.store(queued, ordering: .relaxed) }
                if waitReadable(gate.descriptor, until: deadline(afterMilliseconds: 1)) { return }
            }
        }
    }

    /// Stops sampling; returns the deepest queue seen.
    func stop() -> UInt32 {
        stopGate.open()
        if let thread { Threads.join(thread) }
        thread = nil
        return deepest.value.load(ordering: .relaxed)
    }

    deinit { _ = stop() }
}
