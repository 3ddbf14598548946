import CCorral
import CorralRuntime
import Glibc
import Synchronization

/// `corral lab balance` (seed 003, "How not to load-balance connections with accept()"): how
/// evenly connections and requests land on W workers, per accept strategy and load shape, and
/// what the balancing costs in latency.
public struct BalanceExperiment: LabExperiment {
    public init() {}

    public var name: String { "balance" }
    public var seed: String { "003" }
    public var title: String { "Load-balancing connections with accept()" }
    public var question: String {
        "Do W workers waiting on one listener get an even share of connections and requests, or do connections pile onto one worker, and does the seed's random-sleep hack (or Corral's dispatch) spread them without adding latency?"
    }
    public var method: String {
        "W workers = W event loops (for `blocking`, W threads blocked in accept(2), thread i handing to loop i; for `blocking+jitter`, W such threads written in the experiment, each sleeping a random 0–20 ms before every accept(2), the seed's LD_PRELOAD hack). "
            + "The server echoes one byte per request. Loads, all on 127.0.0.1: `sequential`, one client making connections one after another (connect, one round trip, close; 100 quick / 200 full); "
            + "`concurrent`, 2W client threads (at most 32, released together from a gate) each making short connections the same way (25 / 50 each); "
            + "`keepalive`, 2W client threads (released together) each holding one connection for 100 / 300 round trips. "
            + "Connections per worker are the loops' acceptedConnections, requests per worker the handler's counts on each loop. "
            + "Figures: Jain's fairness index (Σx)²/(n·Σx²) of the per-worker counts (1 = even, 1/W = one worker took everything), max/min ratio (blank when a worker got nothing: see idle workers), the busiest worker's share, and latency: connect() to the first reply for the short-connection loads, the round trip for keepalive."
    }

    static let strategies = ["blocking", "blocking+jitter", "shared", "exclusive", "reuseport", "dispatch", "dispatch-fewest"]
    static let loads = ["sequential", "concurrent", "keepalive"]

    public func grid(quick: Bool) -> [LabPoint] {
        LabGrid.product([
            ("workers", quick ? ["4"] : ["4", "16"]),
            ("load", Self.loads),
            ("strategy", Self.strategies),
            ("scale", [quick ? "quick" : "full"]),
        ])
    }

    public var columns: [LabColumn] {
        [
            .parameter("workers", title: "W"), .parameter("load"), .parameter("strategy"),
            .figure("conn_jain", title: "conn J", precision: 3),
            .figure("conn_maxmin", title: "conn max/min", precision: 2),
            .figure("conn_max_share_pct", title: "busiest", unit: "%", precision: 1),
            .figure("idle_workers", title: "idle workers", precision: 1),
            .figure("req_jain", title: "req J", precision: 3),
            .figure("p50_us", title: "latency p50", unit: "µs"),
            .figure("p99_us", title: "latency p99", unit: "µs"),
        ]
    }

    public var charts: [LabChart] {
        [
            LabChart(title: "Jain's fairness of connections per worker", figure: "conn_jain", x: "strategy", series: "load"),
            LabChart(title: "Jain's fairness of requests per worker", figure: "req_jain", x: "strategy", series: "load"),
            LabChart(title: "Busiest worker's share of connections", figure: "conn_max_share_pct", x: "strategy", series: "load", unit: "%"),
            LabChart(title: "Latency p50", figure: "p50_us", x: "strategy", series: "load", unit: "µs", logScale: true),
            LabChart(title: "Latency p99", figure: "p99_us", x: "strategy", series: "load", unit: "µs", logScale: true),
        ]
    }

    public func estimatedSeconds(quick: Bool) -> Double? { quick ? 8 : 30 }

    public func run(point: LabPoint) throws -> [String: Double] {
        guard let workers = point.int("workers"), workers > 0, let strategy = point["strategy"],
              let load = point["load"] else { throw AcceptLabError("bad point \(point)") }
        let quick = point["scale"] == "quick"
        return try BalanceRun(workers: workers, strategy: strategy, load: load, quick: quick).measure()
    }

    // MARK: report

    private func find(_ points: [LabPointResult], _ w: String, _ load: String, _ s: String) -> LabPointResult? {
        points.first { $0.parameters["workers"] == w && $0.parameters["load"] == load && $0.parameters["strategy"] == s }
    }

    public func todayFigures(for points: [LabPointResult]) -> [String: String] {
        var today: [String: String] = [:]
        let w = points.first?.parameters["workers"] ?? "4"
        if let ex = find(points, w, "sequential", "exclusive"), let share = ex.median("conn_max_share_pct"), let j = ex.median("conn_jain") {
            var text = "EPOLLEXCLUSIVE, W=\(w), sequential: busiest worker \(LabFormat.number(share, precision: 0)) % of connections, J = \(LabFormat.number(j, precision: 2))"
            if let bl = find(points, w, "sequential", "blocking")?.median("conn_jain") {
                text += " (blocking accept, FIFO: J = \(LabFormat.number(bl, precision: 2)))"
            }
            today["lifo_pileup"] = text
        }
        if let jit = find(points, w, "sequential", "blocking+jitter"), let j = jit.median("conn_jain"), let p50 = jit.median("p50_us") {
            var text = "W=\(w), sequential: J = \(LabFormat.number(j, precision: 2)), p50 \(LabFormat.number(p50 / 1000)) ms"
            if let bl = find(points, w, "sequential", "blocking")?.median("p50_us") {
                text += " vs \(LabFormat.number(bl)) µs without the sleep"
            }
            today["random_sleep"] = text
        }
        return today
    }

    private func signed(_ x: Double) -> String { (x < 0 ? "−" : "+") + LabFormat.number(abs(x)) }

    public func notes(for points: [LabPointResult]) -> [String] {
        var notes: [String] = []
        let ws = points.compactMap { $0.parameters["workers"] }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        for w in ws {
            for load in Self.loads {
                guard let base = find(points, w, load, "blocking"), let b50 = base.median("p50_us"), let b99 = base.median("p99_us") else { continue }
                var parts: [String] = []
                for s in Self.strategies.dropFirst() {
                    guard let p = find(points, w, load, s), let p50 = p.median("p50_us"), let p99 = p.median("p99_us") else { continue }
                    let j = p.median(load == "keepalive" ? "req_jain" : "conn_jain").map { LabFormat.number($0, precision: 2) } ?? "–"
                    parts.append("\(s) J \(j), \(signed(p50 - b50)) / \(signed(p99 - b99)) µs")
                }
                let bj = base.median(load == "keepalive" ? "req_jain" : "conn_jain").map { LabFormat.number($0, precision: 2) } ?? "–"
                notes.append("W=\(w), \(load): blocking J \(bj), p50/p99 \(LabFormat.number(b50)) / \(LabFormat.number(b99)) µs; added p50/p99 vs blocking: " + parts.joined(separator: "; ") + ".")
            }
        }
        notes.append(
            "Blocking accept(2) queues its waiters FIFO (prepare_to_wait_exclusive adds at the tail), so connections go round the workers; epoll waiters are queued LIFO, so with EPOLLEXCLUSIVE under light load the most recently idle loop — usually the one that just finished — takes the next connection too: the seed's pile-up, on Linux.")
        notes.append(
            "FIFO only helps waiters that are asleep: when connections arrive together (keepalive, concurrent), a thread that has just accepted finds the next connection already queued and takes it without sleeping, so blocking accept piles up too; the hack's sleep, and dispatch, break that.")
        notes.append(
            "The seed's random 0–20 ms sleep before accept spreads connections because whoever is not asleep gets the next one, but every connection that arrives while all workers sleep waits for the first to wake: the spread is paid for in latency.")
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

    init(group: EventLoopGroup, handler: @escaping @Sendable (EventLoop) -> any ConnectionHandler) throws {
        fd = Glibc.socket(AF_INET, ccorral_SOCK_STREAM | ccorral_SOCK_CLOEXEC, 0)
        guard fd >= 0 else { throw AcceptLabError("socket: errno \(errno)") }
        do {
            try Posix.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, CInt(1))
            try Posix.bind(fd, .ipv4(host: "127.0.0.1", port: 0))
            try Posix.listen(fd, backlog: 1024)
            address = try Posix.getsockname(fd)
        } catch {
            Glibc.close(fd)
            throw error
        }
        let fd = self.fd
        for (i, loop) in group.loops.enumerated() {
            let thread = try Threads.spawn(name: "corral-accept-j\(i)") {
                while true {
                    _ = Glibc.poll(nil, 0, Int32.random(in: 0...20))  // the hack being measured
                    let connection = ccorral_accept4(fd, nil, nil)
                    if connection >= 0 {
                        loop.execute { Connection.adopt(OwnedDescriptor(adopting: connection), on: loop, handler: handler(loop)) }
                        continue
                    }
                    let code = ccorral_errno()
                    if code == EINTR || code == ECONNABORTED || code == EAGAIN { continue }
                    return  // EINVAL after shutdown(2): stop
                }
            }
            threads.append(thread)
        }
    }

    func stop() {
        _ = Glibc.shutdown(fd, CInt(SHUT_RDWR))
        for thread in threads { Threads.join(thread) }
        threads = []
        Glibc.close(fd)
    }
}

/// One measurement of one balance point.
struct BalanceRun {
    let workers: Int
    let strategy: String
    let load: String
    let quick: Bool

    func measure() throws -> [String: Double] {
        let before = ServerThreads.currentTIDs()
        let group = try EventLoopGroup(loopCount: workers)
        try group.start()
        defer { group.shutdown() }
        let counts = WorkerCounters(workers: workers)
        let factory: @Sendable (EventLoop) -> any ConnectionHandler = { loop in
            BalanceHandler(worker: loop.index, counts: counts)
        }
        let address: SocketAddress
        var stop: () -> Void
        if strategy == "blocking+jitter" {
            let acceptor = try JitterAcceptor(group: group, handler: factory)
            address = acceptor.address
            stop = { acceptor.stop() }
        } else {
            guard let s = AcceptStrategy(name: strategy) else { throw AcceptLabError("unknown strategy \(strategy)") }
            var options = ListenerOptions()
            options.blockingThreads = workers
            options.backlog = 1024
            let listener = Listener(group: group, address: .ipv4(host: "127.0.0.1", port: 0), strategy: s, options: options, handler: factory)
            address = try listener.start()
            stop = { listener.stop() }
        }
        defer { stop() }
        // Every loop has registered its acceptor and every server thread is waiting.
        try runOnEveryLoop(group.loops)
        ServerThreads.new(since: before, prefixes: ["corral-loop", "corral-accept"]).waitUntilAllSleeping()

        let clients = min(32, 2 * workers)
        let latencies: [Double]
        switch load {
        case "sequential":
            latencies = try shortConnections(address, count: quick ? 100 : 200)
        case "concurrent":
            latencies = try onThreads(clients) { try shortConnections(address, count: quick ? 25 : 50) }
        case "keepalive":
            latencies = try onThreads(clients) { try keepAlive(address, requests: quick ? 100 : 300) }
        default:
            throw AcceptLabError("unknown load \(load)")
        }
        let perConnection = group.loops.map { Double($0.stats.acceptedConnections) }
        let perRequest = counts.values.map(Double.init)
        let total = perConnection.reduce(0, +)
        var figures: [String: Double] = [
            "conn_jain": Statistics.jainFairness(perConnection) ?? 0,
            "conn_maxmin": Statistics.maxMinRatio(perConnection) ?? .infinity,
            "conn_max_share_pct": total > 0 ? 100 * (perConnection.max() ?? 0) / total : 0,
            "idle_workers": Double(perConnection.filter { $0 == 0 }.count),
            "req_jain": Statistics.jainFairness(perRequest) ?? 0,
            "req_maxmin": Statistics.maxMinRatio(perRequest) ?? .infinity,
            "connections": total,
            "requests": perRequest.reduce(0, +),
        ]
        let p = Statistics.percentiles(latencies, [50, 99]) ?? [0, 0]
        figures["p50_us"] = p[0] / 1000
        figures["p99_us"] = p[1] / 1000
        return figures
    }

    /// `count` connections one after another: connect, one round trip, close. Latency: connect()
    /// to the reply.
    private func shortConnections(_ address: SocketAddress, count: Int) throws -> [Double] {
        var latencies: [Double] = []
        latencies.reserveCapacity(count)
        for _ in 0..<count {
            let start = monotonicNanoseconds()
            let fd = try LabClient.connect(address)
            defer { Glibc.close(fd) }
            try LabClient.roundTrip(fd)
            latencies.append(Double(monotonicNanoseconds() - start))
        }
        return latencies
    }

    /// One connection, `requests` round trips. Latency: each round trip.
    private func keepAlive(_ address: SocketAddress, requests: Int) throws -> [Double] {
        let fd = try LabClient.connect(address)
        defer { Glibc.close(fd) }
        var latencies: [Double] = []
        latencies.reserveCapacity(requests)
        for _ in 0..<requests {
            let start = monotonicNanoseconds()
            try LabClient.roundTrip(fd)
            latencies.append(Double(monotonicNanoseconds() - start))
        }
        return latencies
    }

    /// Runs `body` on `count` client threads at once and gathers their latencies.
    private func onThreads(_ count: Int, _ body: @escaping @Sendable () throws -> [Double]) throws -> [Double] {
        let results = Locked<(latencies: [Double], errors: [String])>(([], []))
        let gate = try LabGate()
        var threads: [pthread_t] = []
        defer {
            gate.open()
            for t in threads { Threads.join(t) }
        }
        for i in 0..<count {
            threads.append(try Threads.spawn(name: "lab-client-\(i)") {
                do {
                    guard gate.wait() else { throw AcceptLabError("start gate never opened") }
                    let l = try body()
                    results.withLock { $0.latencies += l }
                } catch {
                    results.withLock { $0.errors.append("\(error)") }
                }
            })
        }
        gate.open()
        for t in threads { Threads.join(t) }
        threads = []
        let (latencies, errors) = results.withLock { ($0.latencies, $0.errors) }
        if let first = errors.first { throw AcceptLabError("\(errors.count) client(s) failed: \(first)") }
        return latencies
    }
}
