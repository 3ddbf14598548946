import CorralRuntime
import Glibc
import Synchronization

/// `corral lab herd` (seed 002, CITI "Accept() scalability on Linux"): how many waiters wake
/// for one connection, and how long until they are all waiting again, for W waiters and each
/// accept strategy.
public struct HerdExperiment: LabExperiment {
    public init() {}

    public var name: String { "herd" }
    public var seed: String { "002" }
    public var title: String { "Thundering herd on accept()" }
    public var question: String {
        "When W threads wait for connections on one listening socket, how many of them wake for each connection, how long until they are all waiting again, and what does that cost the connection?"
    }
    public var method: String {
        "W waiters (threads blocked in accept(2) for `blocking`; W event loops, one thread each, for the epoll strategies; one acceptor on loop 0 of W loops for `dispatch`) serve one listener on 127.0.0.1. "
            + "After two warm-up connections and once every server thread sleeps, a client connects K times, one at a time, and keeps each connection open (so nothing but the accept wakes anyone). "
            + "Wake-ups and empty wake-ups are the runtime's per-acceptor counters (a wake-up is epoll_wait or accept(2) returning to user space; empty means the first accept4 found the queue empty), divided by K. "
            + "Thread wake-ups are the voluntary context switches of all server threads (from /proc/self/task/*/status) over the K connections, divided by K: they also count waiters the kernel woke that went back to sleep inside epoll_wait without reaching user space, and the hand-off wake of the loop that adopts the connection. "
            + "Server CPU per connection is the same threads' time on a CPU (/proc/self/task/*/schedstat) over the K connections, divided by K: the price of the wake-ups, including the herd's in-kernel part. "
            + "Accept latency runs from the client's connect() call to the server handler's connectionDidOpen (monotonic clock). "
            + "Settle time runs from connect() to the latest moment any acceptor that woke for this connection went back to waiting (AcceptorStats.lastWakeEnd); the client polls the counters after the accept and stops once they have been still for as long as the herd has taken so far (at least 0.5 ms, at most 1 s). "
            + "CITI measured the same interval with printk() in the kernel's wait-queue code."
    }

    static let strategies = ["blocking", "shared", "exclusive", "reuseport", "dispatch"]

    public func grid(quick: Bool) -> [LabPoint] {
        LabGrid.product([
            ("waiters", quick ? ["1", "10", "100"] : ["1", "10", "100", "1000"]),
            ("strategy", Self.strategies),
            ("connections", [quick ? "50" : "200"]),
        ])
    }

    public var columns: [LabColumn] {
        [
            .parameter("waiters", title: "W"), .parameter("strategy"), .parameter("connections", title: "K"),
            .figure("wakeups_per_conn", title: "wake-ups/conn", precision: 2),
            .figure("empty_per_conn", title: "empty/conn", precision: 2),
            .figure("thread_wakeups_per_conn", title: "thread wake-ups/conn", precision: 2),
            .figure("server_cpu_us_per_conn", title: "server CPU/conn", unit: "µs"),
            .figure("settle_us", title: "settle p50", unit: "µs"),
            .figure("settle_max_us", title: "settle max", unit: "µs"),
            .figure("accept_us", title: "accept p50", unit: "µs"),
            .figure("accept_p99_us", title: "accept p99", unit: "µs"),
        ]
    }

    public var charts: [LabChart] {
        [
            LabChart(title: "Acceptor wake-ups per connection", figure: "wakeups_per_conn", x: "waiters", series: "strategy", logScale: true),
            LabChart(title: "Thread wake-ups per connection (context switches)", figure: "thread_wakeups_per_conn", x: "waiters", series: "strategy", logScale: true),
            LabChart(title: "Server threads' CPU time per connection", figure: "server_cpu_us_per_conn", x: "waiters", series: "strategy", unit: "µs", logScale: true),
            LabChart(title: "Settle time (median)", figure: "settle_us", x: "waiters", series: "strategy", unit: "µs", logScale: true, style: .lines),
            LabChart(title: "Accept latency (median)", figure: "accept_us", x: "waiters", series: "strategy", unit: "µs", logScale: true, style: .lines),
        ]
    }

    public func estimatedSeconds(quick: Bool) -> Double? { quick ? 6 : 40 }

    public func run(point: LabPoint) throws -> [String: Double] {
        guard let waiters = point.int("waiters"), waiters > 0,
              let name = point["strategy"], let strategy = AcceptStrategy(name: name) else {
            throw AcceptLabError("bad point \(point)")
        }
        let connections = max(1, point.int("connections") ?? 50)
        return try HerdRun(waiters: waiters, strategy: strategy, connections: connections).measure()
    }

    // MARK: report

    private func median(_ points: [LabPointResult], _ w: String, _ s: String, _ key: String) -> Double? {
        points.first { $0.parameters["waiters"] == w && $0.parameters["strategy"] == s }?.median(key)
    }

    public func todayFigures(for points: [LabPointResult]) -> [String: String] {
        var today: [String: String] = [:]
        func ms(_ us: Double) -> String { LabFormat.number(us / 1000) + " ms" }
        for w in ["100", "1000"] {
            if let shared = median(points, w, "shared", "settle_us") {
                var text = "shared epoll: \(ms(shared))"
                if let blocking = median(points, w, "blocking", "settle_us") { text += "; blocking accept: \(ms(blocking))" }
                if let wake = median(points, w, "shared", "thread_wakeups_per_conn") {
                    text += " (shared wakes \(LabFormat.number(wake)) threads/conn)"
                }
                today["settle_\(w)"] = text
            }
        }
        let oneWake = points.filter { ["blocking", "exclusive", "reuseport", "dispatch"].contains($0.parameters["strategy"] ?? "") }
            .compactMap { $0.median("settle_us") }
        if let lo = oneWake.min(), let hi = oneWake.max() {
            today["settle_wake_one"] = "\(ms(lo))–\(ms(hi)) (blocking, exclusive, reuseport, dispatch; all W)"
        }
        today["settle_500"] = "not measured (W ∈ {1, 10, 100, 1000})"
        return today
    }

    public func notes(for points: [LabPointResult]) -> [String] {
        var notes: [String] = []
        let ws = points.compactMap { $0.parameters["waiters"] }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        guard let top = ws.last else { return notes }
        var parts: [String] = []
        for s in Self.strategies {
            if let w = median(points, top, s, "wakeups_per_conn"), let t = median(points, top, s, "thread_wakeups_per_conn") {
                parts.append("\(s) \(LabFormat.number(w)) (threads \(LabFormat.number(t)))")
            }
        }
        if !parts.isEmpty {
            notes.append("At W = \(top), acceptor wake-ups per connection (thread wake-ups in brackets): " + parts.joined(separator: ", ") + ".")
        }
        notes.append(
            "Blocking accept(2) is wake-one on today's kernel (prepare_to_wait_exclusive, FIFO), the fix CITI benchmarked in 1999; its thread wake-ups include the hand-off to the event loop that serves the connection, as do dispatch's.")
        if let shared = median(points, top, "shared", "thread_wakeups_per_conn"),
           let sharedUser = median(points, top, "shared", "wakeups_per_conn"), shared > sharedUser + 0.5 {
            notes.append(
                "Shared epoll is the herd: every loop's epoll instance sits on the listener's wait queue non-exclusively, so the kernel wakes all of them. Only \(LabFormat.number(sharedUser)) per connection reach user space; the other \(LabFormat.number(shared - sharedUser)) find the event gone (level-triggered re-check in ep_send_events) and go back to sleep inside epoll_wait, invisible to the runtime's counters but not to the context-switch count.")
            if let cpu = median(points, top, "shared", "server_cpu_us_per_conn"), let ex = median(points, top, "exclusive", "server_cpu_us_per_conn") {
                notes.append("That in-kernel herd costs \(LabFormat.number(cpu)) µs of server CPU per connection at W = \(top), against \(LabFormat.number(ex)) µs with EPOLLEXCLUSIVE.")
            }
        }
        notes.append(
            "EPOLLEXCLUSIVE and SO_REUSEPORT wake one waiter per connection however many wait; with EPOLLEXCLUSIVE the woken one is the most recently idle (LIFO), see `lab balance`.")
        notes.append(
            "Settle time here ends when the last acceptor that woke returns to epoll_wait or accept(2) in user space; CITI's printk() timestamps saw the kernel wait queue itself. Herd members that never leave the kernel are not in the settle time, only in the thread wake-ups and the server CPU.")
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

    func measure() throws -> [String: Double] {
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
        defer { for fd in clients { Glibc.close(fd) } }

        // Every loop has run its registration (tasks run in submission order).
        // The loops' thread ids come from the loops themselves (other tests in the same process
        // may be starting loops of their own); accept threads are the new `corral-accept` tasks.
        let loopTIDs = Locked<[Int32]>([])
        try runOnEveryLoop(group.loops) { _ in
            let tid = Int32(Threads.currentTID())
            loopTIDs.withLock { $0.append(tid) }
        }
        // Each accept thread names itself once it runs: poll (bounded) until all have.
        var acceptThreads = ServerThreads.new(since: before, prefixes: ["corral-accept"])
        let namedBy = monotonicNanoseconds() + 2_000_000_000
        while strategy == .blocking && acceptThreads.tids.count < waiters && monotonicNanoseconds() < namedBy {
            LabPause.microseconds(200)
            acceptThreads = ServerThreads.new(since: before, prefixes: ["corral-accept"])
        }
        let threads = ServerThreads(tids: loopTIDs.withLock { $0 } + (strategy == .blocking ? acceptThreads.tids : []))
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
        let switchesStart = threads.voluntarySwitches()
        let cpuStart = threads.cpuNanoseconds()
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
        let switches = threads.voluntarySwitches() &- switchesStart
        let cpu = threads.cpuNanoseconds() &- cpuStart
        let wakeUps = stats.reduce(0) { $0 + $1.wakeUps } - wakeStart
        let empty = stats.reduce(0) { $0 + $1.emptyWakeUps } - emptyStart
        let k = Double(connections)
        let accept = Statistics.percentiles(acceptNs, [50, 99]) ?? [0, 0]
        return [
            "wakeups_per_conn": Double(wakeUps) / k,
            "empty_per_conn": Double(empty) / k,
            "thread_wakeups_per_conn": Double(switches) / k,
            "server_cpu_us_per_conn": Double(cpu) / k / 1000,
            "settle_us": (Statistics.median(settleNs) ?? 0) / 1000,
            "settle_max_us": (settleNs.max() ?? 0) / 1000,
            "accept_us": accept[0] / 1000,
            "accept_p99_us": accept[1] / 1000,
        ]
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
