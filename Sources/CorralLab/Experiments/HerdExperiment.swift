import CorralRuntime
import Glibc
import Synchronization

/// `corral lab herd` (seed 002, CITI "Accept() scalability on Linux"): how many waiters wake
/// for one connection, and how long until they are all waiting again, for W waiters and each
/// accept strategy, Corral's and nginx's.
public struct HerdExperiment: LabExperiment {
    public init() {}

    public enum Figure: String, LabFigureName {
        case wakeUps = "wakeups_per_conn", emptyWakeUps = "empty_per_conn"
        case threadWakeUps = "thread_wakeups_per_conn", schedWakeUps = "sched_wakeups_per_conn"
        case serverCPU = "server_cpu_us_per_conn"
        case settle = "settle_us", settleMax = "settle_max_us", accept = "accept_us", acceptP99 = "accept_p99_us"
    }

    public var name: String { "herd" }
    public var seed: String { "002" }
    public var title: String { "Thundering herd on accept()" }
    public var question: String {
        "When W threads wait for connections on one listening socket, how many of them wake for each connection, how long until they are all waiting again, and what does that cost the connection — with Corral's strategies and with nginx's?"
    }
    public var method: String {
        "W waiters (threads blocked in accept(2) for `blocking`; W event loops, one thread each, for the epoll strategies; one acceptor on loop 0 of W loops for `dispatch`; W nginx worker processes for the nginx rows) serve one listener on 127.0.0.1. "
            + "After two warm-up connections and once every server thread sleeps, a client connects K times, one at a time, and keeps each connection open (so nothing but the accept wakes anyone). "
            + "Wake-ups and empty wake-ups are the runtime's per-acceptor counters (a wake-up is epoll_wait or accept(2) returning to user space; empty means the first accept4 found the queue empty), divided by K. "
            + "Scheduler wake-ups are the kernel's sched_wakeup events for the server threads (bpftrace on the tracepoint, over the K connections, divided by K): every wake-up, including those of threads that go back to sleep inside epoll_wait without reaching user space. "
            + "Thread wake-ups are the voluntary context switches of the same threads (/proc/PID/task/*/status), which also count those: each wake-up ends in one more sleep. "
            + "Server CPU per connection is the threads' time on a CPU (/proc/PID/task/*/schedstat) over the K connections, divided by K: the price of the wake-ups, including the herd's in-kernel part. "
            + "Accept latency runs from the client's connect() call to the server handler's connectionDidOpen (monotonic clock). "
            + "Settle time runs from connect() to the latest moment any acceptor that woke for this connection went back to waiting (AcceptorStats.lastWakeEnd); the client polls the counters after the accept and stops once they have been still for as long as the herd has taken so far (at least 0.5 ms, at most 1 s). "
            + "CITI measured the same interval with printk() in the kernel's wait-queue code. "
            + "nginx (the distribution's, with a configuration of the lab's: \(NginxSettings.variants.dropLast().map { "`\($0.name)` \($0.settings.summary)" }.joined(separator: "; "))) has no handler the lab can time, so its rows have wake-ups and CPU only: after each connect the client waits until the accept queue (tcp_diag) is empty and every worker sleeps."
    }

    static let strategies = ["blocking", "shared", "exclusive", "reuseport", "dispatch"]
    /// nginx variants measured (multi_accept changes nothing when connections come one at a time).
    static let nginxStrategies = ["nginx", "nginx-mutex", "nginx-reuseport"]

    public func grid(quick: Bool) -> [LabPoint] {
        let connections = quick ? "50" : "200"
        let corral = LabGrid.product([
            ("waiters", quick ? ["1", "10", "100"] : ["1", "10", "100", "1000"]),
            ("strategy", Self.strategies),
            ("connections", [connections]),
        ])
        // A worker is a process: 1000 of them is a different experiment; W ≤ 100.
        let nginx = LabGrid.product([
            ("waiters", quick ? ["10"] : ["1", "10", "100"]),
            ("strategy", quick ? Array(Self.nginxStrategies.prefix(2)) : Self.nginxStrategies),
            ("connections", [connections]),
        ])
        return corral + nginx
    }

    public var columns: [LabColumn] {
        [
            .parameter("waiters", title: "W"), .parameter("strategy"), .parameter("connections", title: "K"),
            .figure(Figure.wakeUps, title: "wake-ups/conn", precision: 2),
            .figure(Figure.emptyWakeUps, title: "empty/conn", precision: 2),
            .figure(Figure.schedWakeUps, title: "sched wake-ups/conn", precision: 2),
            .figure(Figure.threadWakeUps, title: "thread wake-ups/conn", precision: 2),
            .figure(Figure.serverCPU, title: "server CPU/conn", unit: "µs"),
            .figure(Figure.settle, title: "settle p50", unit: "µs"),
            .figure(Figure.settleMax, title: "settle max", unit: "µs"),
            .figure(Figure.accept, title: "accept p50", unit: "µs"),
            .figure(Figure.acceptP99, title: "accept p99", unit: "µs"),
        ]
    }

    public var charts: [LabChart] {
        [
            LabChart(title: "Acceptor wake-ups per connection", figure: Figure.wakeUps, x: "waiters", series: "strategy", logScale: true),
            LabChart(title: "Scheduler wake-ups of server threads per connection (sched_wakeup)", figure: Figure.schedWakeUps, x: "waiters", series: "strategy", logScale: true),
            LabChart(title: "Server threads' CPU time per connection", figure: Figure.serverCPU, x: "waiters", series: "strategy", unit: "µs", logScale: true),
            LabChart(title: "Settle time (median)", figure: Figure.settle, x: "waiters", series: "strategy", unit: "µs", logScale: true, style: .lines),
            LabChart(title: "Accept latency (median)", figure: Figure.accept, x: "waiters", series: "strategy", unit: "µs", logScale: true, style: .lines),
        ]
    }

    public func estimatedSeconds(quick: Bool) -> Double? { quick ? 5 : 30 }

    public func run(point: LabPoint, in context: LabContext) throws -> LabFigures<Figure> {
        guard let waiters = point.int("waiters"), waiters > 0, let name = point["strategy"] else {
            throw AcceptLabError("bad point \(point)")
        }
        let connections = max(1, point.int("connections") ?? 50)
        let tracer = context.wakeupTracer()
        if let settings = NginxSettings.named(name) {
            return try HerdNginxRun(waiters: waiters, settings: settings, connections: connections, tracer: tracer).measure()
        }
        guard let strategy = AcceptStrategy(name: name) else { throw AcceptLabError("bad point \(point)") }
        return try HerdRun(waiters: waiters, strategy: strategy, connections: connections, tracer: tracer).measure()
    }

    // MARK: report

    private func median(_ points: [LabPointResult], _ w: String, _ s: String, _ figure: Figure) -> Double? {
        median(points, figure, where: ["waiters": w, "strategy": s])
    }

    public func todayFigures(for points: [LabPointResult]) -> [SeedFigureID: String] {
        var today: [SeedFigureID: String] = [:]
        func ms(_ us: Double) -> String { LabFormat.number(us / 1000) + " ms" }
        for (w, id) in [("100", SeedFigureID.settle100), ("1000", .settle1000)] {
            if let shared = median(points, w, "shared", .settle) {
                var text = "shared epoll: \(ms(shared))"
                if let blocking = median(points, w, "blocking", .settle) { text += "; blocking accept: \(ms(blocking))" }
                if let wake = median(points, w, "shared", .schedWakeUps) ?? median(points, w, "shared", .threadWakeUps) {
                    text += " (shared wakes \(LabFormat.number(wake)) threads/conn)"
                }
                today[id] = text
            }
        }
        let oneWake = points.filter { ["blocking", "exclusive", "reuseport", "dispatch"].contains($0.parameters["strategy"] ?? "") }
            .compactMap { $0.median(Figure.settle) }
        if let lo = oneWake.min(), let hi = oneWake.max() {
            today[.settleWakeOne] = "\(ms(lo))–\(ms(hi)) (blocking, exclusive, reuseport, dispatch; all W)"
        }
        today[.settle500] = "not measured (W ∈ {1, 10, 100, 1000})"
        return today
    }

    public func notes(for points: [LabPointResult]) -> [String] {
        var notes: [String] = []
        let ws = points.filter { p in !NginxSettings.variants.contains { $0.name == p.parameters["strategy"] } }
            .compactMap { $0.parameters["waiters"] }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        guard let top = ws.last else { return notes }
        var parts: [String] = []
        for s in Self.strategies {
            if let w = median(points, top, s, .wakeUps), let t = median(points, top, s, .schedWakeUps) ?? median(points, top, s, .threadWakeUps) {
                parts.append("\(s) \(LabFormat.number(w)) (threads \(LabFormat.number(t)))")
            }
        }
        if !parts.isEmpty {
            notes.append("At W = \(top), acceptor wake-ups per connection (scheduler wake-ups of server threads in brackets): " + parts.joined(separator: ", ") + ".")
        }
        notes.append(
            "Blocking accept(2) is wake-one on today's kernel (prepare_to_wait_exclusive, FIFO), the fix CITI benchmarked in 1999; its thread wake-ups include the hand-off to the event loop that serves the connection, as do dispatch's.")
        if let shared = median(points, top, "shared", .schedWakeUps) ?? median(points, top, "shared", .threadWakeUps),
           let sharedUser = median(points, top, "shared", .wakeUps), shared > sharedUser + 0.5 {
            notes.append(
                "Shared epoll is the herd: every loop's epoll instance sits on the listener's wait queue non-exclusively, so the kernel wakes all of them (\(LabFormat.number(shared)) scheduler wake-ups per connection). Only \(LabFormat.number(sharedUser)) per connection reach user space; the other \(LabFormat.number(shared - sharedUser)) find the event gone (level-triggered re-check in ep_send_events) and go back to sleep inside epoll_wait, invisible to the runtime's counters but not to the scheduler.")
            if let cpu = median(points, top, "shared", .serverCPU), let ex = median(points, top, "exclusive", .serverCPU) {
                notes.append("That in-kernel herd costs \(LabFormat.number(cpu)) µs of server CPU per connection at W = \(top), against \(LabFormat.number(ex)) µs with EPOLLEXCLUSIVE.")
            }
        }
        let nginxWs = points.filter { $0.parameters["strategy"]?.hasPrefix("nginx") == true }.compactMap { $0.parameters["waiters"] }
        if let w = nginxWs.max(by: { (Int($0) ?? 0) < (Int($1) ?? 0) }) {
            var nginxParts: [String] = []
            for s in Self.nginxStrategies {
                guard let wake = median(points, w, s, .schedWakeUps) ?? median(points, w, s, .threadWakeUps) else { continue }
                let cpu = median(points, w, s, .serverCPU).map { ", \(LabFormat.number($0)) µs CPU" } ?? ""
                nginxParts.append("\(s) \(LabFormat.number(wake)) wake-ups\(cpu)")
            }
            if !nginxParts.isEmpty {
                notes.append("nginx with W = \(w) workers, per connection: " + nginxParts.joined(separator: "; ") + ". With accept_mutex off (the default) every worker's epoll waits on the listener with EPOLLEXCLUSIVE, so one worker wakes; with accept_mutex on only the worker holding the mutex has the listener in its epoll, and the others wake every accept_mutex_delay (500 ms) to try for it; with reuseport each worker has its own socket and queue.")
            }
        }
        notes.append(
            "EPOLLEXCLUSIVE and SO_REUSEPORT wake one waiter per connection however many wait; with EPOLLEXCLUSIVE it is the first registered epoll instance with a thread asleep in it, see `lab balance`.")
        notes.append(
            "Settle time here ends when the last acceptor that woke returns to epoll_wait or accept(2) in user space; CITI's printk() timestamps saw the kernel wait queue itself. Herd members that never leave the kernel are not in the settle time, only in the wake-ups and the server CPU.")
        return notes
    }
}

/// Records when the server's handler saw each connection open.
final class HerdProbe: Sendable {
    let openedAt = Atomic<UInt64>(0)
    let signal: LabSignal
    init() throws { signal = try LabSignal() }
}

/// Takes the connection and does nothing else (no data is sent; EOF closes it).
final class HerdHandler: ConnectionHandler {
    let probe: HerdProbe
    init(probe: HerdProbe) { self.probe = probe }

    func connectionDidOpen(_ connection: Connection) {
        probe.openedAt.store(monotonicNanoseconds(), ordering: .releasing)
        probe.signal.signal()
    }

    func connection(_ connection: Connection, didRead buffer: UnsafeRawBufferPointer) -> Int { buffer.count }
}

/// One measurement of one herd point.
struct HerdRun {
    let waiters: Int
    let strategy: AcceptStrategy
    let connections: Int
    let tracer: WakeupTracer?

    func measure() throws -> LabFigures<HerdExperiment.Figure> {
        let before = ServerThreads.currentTIDs()
        // Blocking: W accept threads handing to one loop. Epoll strategies: W loops.
        let loopCount = strategy == .blocking ? 1 : waiters
        let group = try EventLoopGroup(loopCount: loopCount)
        try group.start()
        defer { group.shutdown() }
        var options = ListenerOptions()
        options.blockingThreads = waiters
        options.backlog = 1024
        let probe = try HerdProbe()
        let listener = Listener(
            group: group, address: .ipv4(host: "127.0.0.1", port: 0), strategy: strategy, options: options
        ) { _ in HerdHandler(probe: probe) }
        let address = try listener.start()
        defer { listener.stop() }
        var clients: [CInt] = []
        defer { for fd in clients { Posix.close(fd) } }

        // Every loop has run its registration (tasks run in submission order).
        // The loops' thread ids come from the loops themselves (other tests in the same process
        // may be starting loops of their own); accept threads are the new `corral-accept` tasks.
        // One slot per loop, each written by its loop (nothing shared while they run).
        let loopTIDs = group.loops.map { _ in ResultBox<Int32>() }
        try runOnEveryLoop(group.loops) { loop in
            loopTIDs[loop.index].result = .success(Int32(Threads.currentTID()))
        }
        // Each accept thread names itself once it runs: poll (bounded) until all have.
        var acceptThreads = ServerThreads.new(since: before, prefixes: ["corral-accept"])
        let namedBy = monotonicNanoseconds() + 2_000_000_000
        while strategy == .blocking && acceptThreads.tids.count < waiters && monotonicNanoseconds() < namedBy {
            LabPause.microseconds(200)
            acceptThreads = ServerThreads.new(since: before, prefixes: ["corral-accept"])
        }
        let threads = ServerThreads(tids: loopTIDs.compactMap { try? $0.result?.get() } + (strategy == .blocking ? acceptThreads.tids : []))
        let expectedThreads = loopCount + (strategy == .blocking ? waiters : 0)
        // Blocking threads may still be on their way into accept(2).
        threads.waitUntilAllSleeping()
        guard threads.tids.count >= expectedThreads else {
            throw AcceptLabError("found \(threads.tids.count) of \(expectedThreads) server threads")
        }

        let stats = listener.acceptorStats
        // Warm-up: two connections, then every server thread asleep.
        for _ in 0..<2 {
            clients.append(try LabClient.connect(address))
            guard probe.signal.wait(timeoutMilliseconds: 2000) else { throw AcceptLabError("warm-up connection not accepted") }
        }
        threads.waitUntilAllSleeping()
        _ = settle(stats: stats, previous: stats.map(\.wakeUps), start: monotonicNanoseconds())

        let wakeStart = stats.reduce(0) { $0 + $1.wakeUps }
        let emptyStart = stats.reduce(0) { $0 + $1.emptyWakeUps }
        let cost = ThreadCostInterval(threads: threads, tracer: tracer)
        var acceptNs: [Double] = []
        var settleNs: [Double] = []
        acceptNs.reserveCapacity(connections)
        settleNs.reserveCapacity(connections)
        for _ in 0..<connections {
            let previous = stats.map(\.wakeUps)
            let start = monotonicNanoseconds()
            clients.append(try LabClient.connect(address))
            guard probe.signal.wait(timeoutMilliseconds: 2000) else {
                throw AcceptLabError("connection not accepted within 2 s (\(strategy), W=\(waiters))")
            }
            let opened = probe.openedAt.load(ordering: .acquiring)
            acceptNs.append(Double(opened &- start))
            settleNs.append(Double(settle(stats: stats, previous: previous, start: start) &- start))
        }
        var figures = cost.finish(per: connections)
        let wakeUps = stats.reduce(0) { $0 + $1.wakeUps } - wakeStart
        let empty = stats.reduce(0) { $0 + $1.emptyWakeUps } - emptyStart
        let k = Double(connections)
        let accept = Statistics.percentiles(acceptNs, [50, 99]) ?? [0, 0]
        figures.merge([
            .wakeUps: Double(wakeUps) / k,
            .emptyWakeUps: Double(empty) / k,
            .settle: (Statistics.median(settleNs) ?? 0) / 1000,
            .settleMax: (settleNs.max() ?? 0) / 1000,
            .accept: accept[0] / 1000,
            .acceptP99: accept[1] / 1000,
        ])
        return figures
    }

    /// Waits until every acceptor that woke since `previous` is waiting again and the counters
    /// have been still for as long as the herd has taken so far (≥ 0.5 ms, ≤ 1 s after `start`);
    /// returns the latest `lastWakeEnd` of those acceptors (or `start` if none woke).
    private func settle(stats: [AcceptorStats], previous: [Int], start: UInt64) -> UInt64 {
        let hardDeadline = start + 1_000_000_000
        var signature = (wakes: -1, end: UInt64(0))
        var stillSince = monotonicNanoseconds()
        while true {
            var wakes = 0
            var end = start
            var pending = false
            for (i, s) in stats.enumerated() {
                let w = s.wakeUps
                wakes += w
                guard w != previous[i] else { continue }
                let e = s.lastWakeEnd
                if e < start { pending = true } else { end = max(end, e) }
            }
            let now = monotonicNanoseconds()
            if wakes != signature.wakes || end != signature.end {
                signature = (wakes, end)
                stillSince = now
            } else if !pending && now - stillSince >= max(500_000, end - start) {
                return end
            }
            if now >= hardDeadline { return end }
            LabPause.microseconds(100)
        }
    }
}

/// What the server threads spend over one interval, begun at `init`: scheduler wake-ups (from
/// the tracer, or without one from schedstat's run count), voluntary context switches and time
/// on a CPU.
struct ThreadCostInterval {
    private let threads: ServerThreads
    private let tracer: WakeupTracer?
    private let runs: UInt64, switches: UInt64, cpu: UInt64

    init(threads: ServerThreads, tracer: WakeupTracer?) {
        self.threads = threads
        self.tracer = tracer
        _ = tracer?.interval()  // the mark where this interval begins
        runs = threads.runCount()
        switches = threads.voluntarySwitches()
        cpu = threads.cpuNanoseconds()
    }

    /// The interval's figures divided by `count` connections (no scheduler wake-ups if the
    /// tracer stopped answering).
    func finish(per count: Int) -> LabFigures<HerdExperiment.Figure> {
        let sched = tracer.map { t in t.interval().map { threads.wakeUps(in: $0) } } ?? threads.runCount() &- runs
        let k = Double(count)
        var figures: LabFigures<HerdExperiment.Figure> = [
            .threadWakeUps: Double(threads.voluntarySwitches() &- switches) / k,
            .serverCPU: Double(threads.cpuNanoseconds() &- cpu) / k / 1000,
        ]
        figures[.schedWakeUps] = sched.map { Double($0) / k }
        return figures
    }
}

/// One herd measurement of nginx: W worker processes, one listener (or one per worker with
/// reuseport), connections made one at a time and kept open.
struct HerdNginxRun {
    let waiters: Int
    let settings: NginxSettings
    let connections: Int
    let tracer: WakeupTracer?

    func measure() throws -> LabFigures<HerdExperiment.Figure> {
        let server = try NginxServer(workers: waiters, settings: settings, host: "127.0.0.1")
        defer { server.stop() }
        let threads = ServerThreads(processes: server.workers)
        let address = SocketAddress.ipv4(host: "127.0.0.1", port: server.port)
        var clients: [CInt] = []
        defer { for fd in clients { Posix.close(fd) } }
        /// Connects and waits until a worker has taken the connection and every worker sleeps.
        func connectAndSettle() throws {
            clients.append(try LabClient.connect(address))
            let end = deadline(afterMilliseconds: 2000)
            while server.acceptQueue() > 0 {
                guard monotonicNanoseconds() < end else { throw AcceptLabError("nginx did not accept within 2 s") }
                LabPause.microseconds(50)
            }
            threads.waitUntilAllSleeping()
        }
        for _ in 0..<2 { try connectAndSettle() }
        let cost = ThreadCostInterval(threads: threads, tracer: tracer)
        for _ in 0..<connections { try connectAndSettle() }
        return cost.finish(per: connections)
    }
}
