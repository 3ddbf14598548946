import CCorral
import CorralRuntime
import Glibc

/// `corral lab nagle` (seed 004, acme's "earthquaky kernel interfaces"): a 30-byte logical
/// message written as 15 two-byte writes, answered by 2 bytes, under each way of writing it,
/// over loopback and over links with a round trip of their own.
public struct NagleExperiment: LabExperiment {
    /// The one network to run over; `nil`: the sweep (loopback, veth, wires of 0.2, 2, 20 ms).
    public var network: LabNetwork?

    public init(network: LabNetwork? = nil) { self.network = network }

    public enum Figure: String, LabFigureName {
        case rounds, rttP50 = "rtt_p50_us", rttMean = "rtt_mean_us", secondsPer10k = "seconds_per_10k"
        case segments = "segments_per_message", privateNamespace = "private_netns", retransmits, pathRTT = "path_rtt_us"
    }

    public var name: String { "nagle" }
    public var seed: String { "004" }
    public var title: String { "Small writes: Nagle, TCP_NODELAY, TCP_CORK, MSG_MORE, writev" }
    public var question: String {
        "What does a message written in 15 small pieces cost per round trip, in time and in TCP segments, with Nagle's algorithm, with each way around it, and with Corral's own write API left at its defaults — and how does that change when the link has a round trip of its own?"
    }
    public var method: String {
        "A client sends a 30-byte message as 15 × 2-byte writes and waits for a 2-byte reply from a server thread, round after round. "
            + "Modes: default (Nagle on), nodelay (TCP_NODELAY), cork (TCP_CORK set, 15 writes, cork cleared), msg_more (MSG_MORE on the first 14 sends), "
            + "writev (one writev of 15 pieces, TCP_NODELAY), corral (Connection.write 15 times, then one flush, on an event loop, no configuration). "
            + "Networks: `loopback` (127.0.0.1; the measuring thread moves into a private network namespace, unshare CLONE_NEWNET, so only its own segments are counted), `veth` (client and server in two namespaces joined by a veth pair: a real link with no added delay), and `wire:D` (the same namespaces joined by an emulated wire adding a round trip of D: tc netem where the kernel has it, else Corral's wire; see the notes for which ran). "
            + "Segments are /proc/net/snmp OutSegs of the namespaces involved over the counted rounds ÷ round trips, after uncounted warm-up rounds (2 for default, 20–50 for the others) that take the new connection out of quick-ACK mode. "
            + "Round trips per run are bounded by time (about 0.5 s of counted rounds, 25 for default on loopback); seconds per 10 000 round trips are extrapolated from the mean. The path RTT column is the median of 10 UDP pings through the path."
    }

    static let modes = ["default", "nodelay", "cork", "msg_more", "writev", "corral"]
    /// The round trips swept when no `--net` is given: the seed's loopback, a link without
    /// delay, and wires of 0.2 ms (a LAN), 2 ms (a metro link) and 20 ms (a continent).
    static let sweep = ["loopback", "veth", "wire:0.2ms", "wire:2ms", "wire:20ms"]

    public func grid(quick: Bool) -> [LabPoint] {
        let nets = network.map { [$0.description] } ?? (quick ? ["loopback", "wire:2ms"] : Self.sweep)
        // The network outermost: its namespaces and wire are made once for all six modes.
        return LabGrid.product([("net", nets), ("mode", Self.modes), ("scale", [quick ? "quick" : "full"])])
    }

    public var columns: [LabColumn] {
        [
            .parameter("net"), .parameter("mode"),
            .figure(Figure.rounds, title: "round trips", precision: 0),
            .figure(Figure.rttP50, title: "RTT p50", unit: "µs"),
            .figure(Figure.rttMean, title: "RTT mean", unit: "µs"),
            .figure(Figure.secondsPer10k, title: "s per 10 000", precision: 2),
            .figure(Figure.segments, title: "segments/msg", precision: 2),
            .figure(Figure.retransmits, title: "retrans", precision: 0),
            .figure(Figure.pathRTT, title: "path RTT", unit: "µs"),
            .figure(Figure.privateNamespace, title: "private netns", precision: 0),
        ]
    }

    public var charts: [LabChart] {
        [
            LabChart(title: "Round trip, mean", figure: Figure.rttMean, x: "net", series: "mode", unit: "µs", logScale: true),
            LabChart(title: "TCP segments per 30-byte message (both directions)", figure: Figure.segments, x: "mode", series: "net"),
        ]
    }

    public func estimatedSeconds(quick: Bool) -> Double? {
        if let network { return (quick ? 3 : 10) + Double(network.addedRoundTripNanoseconds) / 1e6 * (quick ? 0.3 : 1.5) }
        return quick ? 6 : 50
    }

    public func run(point: LabPoint, in context: LabContext) throws -> LabFigures<Figure> {
        guard let mode = point["mode"], Self.modes.contains(mode) else { throw LabSkip("unknown mode") }
        let network = try self.network ?? LabNetwork(parsing: point["net"] ?? "loopback")
        let quick = point["scale"] == "quick"
        // Bounded by time: about 0.5 s (0.1 s quick) of counted rounds, at most 2000 (300).
        let linkRTT = max(Double(network.addedRoundTripNanoseconds) / 1e9, 50e-6)
        let rounds: Int
        if mode == "default" {
            // Each round waits for a delayed ACK (~40 ms) on top of two round trips.
            rounds = max(quick ? 3 : 5, min(quick ? 10 : 25, Int((quick ? 0.25 : 1.0) / (0.04 + 2 * linkRTT))))
        } else {
            rounds = max(20, min(quick ? 300 : 2000, Int((quick ? 0.1 : 0.5) / linkRTT)))
        }
        // Uncounted rounds first: a new connection ACKs every segment at once (quick-ACK mode)
        // for its first few segments, which would inflate short runs' segment counts.
        let warmup = mode == "default" ? 2 : (network.addedRoundTripNanoseconds > 0 ? 20 : 50)
        guard case .loopback = network else {
            let path = try context.path(for: network)
            var figures = try path.onClient { try NagleRun(mode: mode, rounds: rounds, warmup: warmup, path: path).measure() }
            if let rtt = Statistics.median(path.pingRoundTrips.map { Double($0) }) { figures[.pathRTT] = rtt / 1000 }
            return figures
        }
        // Namespaces belong to threads: a fresh thread can move into its own without touching
        // the rest of the process.
        let box = ResultBox<LabFigures<Figure>>()
        let thread = try Threads.spawn(name: "lab-nagle") {
            box.result = Result { try NagleRun(mode: mode, rounds: rounds, warmup: warmup, path: nil).measure() }
        }
        Threads.join(thread)
        return try box.result!.get()
    }

    private func median(_ points: [LabPointResult], _ mode: String, _ net: String, _ figure: Figure) -> Double? {
        median(points, figure, where: ["mode": mode, "net": net])
    }

    /// The net the seed's comparison is read from: loopback when it ran.
    private func baseNet(_ points: [LabPointResult]) -> String {
        points.contains { $0.parameters["net"] == "loopback" } ? "loopback" : (points.first?.parameters["net"] ?? "loopback")
    }

    public func todayFigures(for points: [LabPointResult]) -> [SeedFigureID: String] {
        let net = baseNet(points)
        func seconds(_ mode: String) -> String? {
            guard let s = median(points, mode, net, .secondsPer10k), let seg = median(points, mode, net, .segments) else { return nil }
            return String(format: "%.2f s (%.1f segments/message)", s, seg)
        }
        var today: [SeedFigureID: String] = [:]
        today[.nagleDefault] = seconds("default")
        today[.nagleNodelay] = seconds("nodelay")
        today[.nagleCork] = seconds("cork")
        return today
    }

    public func notes(for points: [LabPointResult]) -> [String] {
        let net = baseNet(points)
        var notes: [String] = []
        if let d = median(points, "default", net, .segments), let n = median(points, "nodelay", net, .segments), let c = median(points, "corral", net, .segments) {
            notes.append(String(format: "Segments per message (\(net)): default %.1f, nodelay %.1f, corral %.1f. Corral's write+flush gathers the 15 pieces into one sendmsg, so it sends what cork and writev send without any socket option.", d, n, c))
        }
        if let d = median(points, "default", net, .secondsPer10k), let n = median(points, "nodelay", net, .secondsPer10k),
           let c = median(points, "cork", net, .secondsPer10k), n > 0, c > 0 {
            notes.append(String(format: "Seed (2008, loopback): 400 s / 1.65 s / 0.85 s per 10 000 round trips, i.e. default %.0f× nodelay and nodelay %.2f× cork. Today (\(net)): %.2f s / %.2f s / %.2f s, i.e. default %.0f× nodelay and nodelay %.2f× cork.", 400 / 1.65, 1.65 / 0.85, d, n, c, d / n, n / c))
        }
        // The sweep: what Nagle with delayed ACK costs at each round trip.
        let nets = points.compactMap { $0.parameters["net"] }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        var sweep: [String] = []
        for n in nets {
            guard let d = median(points, "default", n, .rttMean), let fast = median(points, "corral", n, .rttMean) ?? median(points, "writev", n, .rttMean), fast > 0 else { continue }
            sweep.append(String(format: "%@ %.1f ms vs %.2f ms (%.0f×, +%.1f ms)", n, d / 1000, fast / 1000, d / fast, (d - fast) / 1000))
        }
        if sweep.count > 1 {
            notes.append("Mean round trip, default (Nagle with delayed ACK) vs corral (one segment per message): " + sweep.joined(separator: "; ") + ". The stall is a delayed-ACK timeout added to every message (≥ 40 ms here, or more when the round trip is long: Linux sizes the delayed-ACK timer from the measured RTT), so it costs a thousandfold on loopback and a LAN and only a few times the round trip on a long link; writes that form one segment (cork, writev, MSG_MORE, corral) never pay it, at any round trip.")
        }
        if let d = points.first(where: { $0.parameters["mode"] == "default" && $0.parameters["net"] == net })?.median(Figure.rounds) {
            notes.append(String(format: "The default mode ran only %.0f round trips on \(net) (each waits ~40 ms for a delayed ACK); its seconds per 10 000 are extrapolated from the mean.", d))
        }
        if points.contains(where: { $0.median(Figure.privateNamespace) == 0 }) {
            notes.append("Some loopback runs could not use a private network namespace (not root?): their segment counts include other traffic on this machine.")
        }
        return notes
    }
}

/// One measurement, on the calling thread: for loopback it moves that thread into a private
/// network namespace; otherwise it runs on the client's side of `path`.
struct NagleRun {
    typealias Figure = NagleExperiment.Figure
    let mode: String
    let rounds: Int
    var warmup = 0
    let path: LabNetworkPath?

    func measure() throws -> LabFigures<Figure> {
        let privateNamespace = path == nil && (try? NetworkNamespaces.unshareForThread()) != nil
        let source: () -> TCPCounters?
        if let path {
            source = { path.tcpCounters() }
        } else if privateNamespace, let own = try? TCPCounterSource() {
            source = { own.read() }
        } else {
            source = { TCPCounters.read() }
        }
        let counters = { () throws -> TCPCounters in
            guard let c = source() else { throw LabSkip("cannot read the TCP counters (/proc/net/snmp)") }
            return c
        }
        let (client, server) = try connectedPair()
        defer {
            Posix.close(client)
        }
        let responder = try Threads.spawn(name: "lab-nagle-srv") { Self.respond(server) }
        defer { Threads.join(responder) }
        var before: TCPCounters
        var latencies: [UInt64]
        if mode == "corral" {
            (latencies, before) = try corralRounds(client, counters: counters)
        } else {
            try configure(client)
            for _ in 0..<warmup {
                try sendMessage(client)
                try receiveReply(client)
            }
            before = try counters()
            latencies = []
            latencies.reserveCapacity(rounds)
            for _ in 0..<rounds {
                let start = monotonicNanoseconds()
                try sendMessage(client)
                try receiveReply(client)
                latencies.append(monotonicNanoseconds() - start)
            }
            try Posix.shutdown(client, how: CInt(SHUT_WR))
        }
        let after = try counters()
        latencies.sort()
        let mean = Double(latencies.reduce(0, +)) / Double(max(1, latencies.count))
        var figures: LabFigures<Figure> = [
            .rounds: Double(rounds),
            .rttP50: Double(latencies[latencies.count / 2]) / 1000,
            .rttMean: mean / 1000,
            .secondsPer10k: mean * 10_000 / 1e9,
            .segments: Double(after.outSegments - before.outSegments) / Double(rounds),
            .retransmits: Double(after.retransmittedSegments - before.retransmittedSegments),
        ]
        if path == nil { figures[.privateNamespace] = privateNamespace ? 1 : 0 }
        return figures
    }

    /// A blocking client socket connected to a blocking accepted one: over 127.0.0.1, or from
    /// the client's namespace to a listener made in the server's.
    private func connectedPair() throws -> (CInt, CInt) {
        let host = path?.serverHost ?? "127.0.0.1"
        let make = { () throws -> CInt in
            let listener = try Posix.socket(domain: AF_INET, type: ccorral_SOCK_STREAM, blocking: true)
            do {
                try Posix.bind(listener, .ipv4(host: host, port: 0))
                try Posix.listen(listener, backlog: 1)
            } catch {
                Posix.close(listener)
                throw error
            }
            return listener
        }
        let listener = try path.map { try $0.onServer(make) } ?? make()
        defer { Posix.close(listener) }
        let address = try Posix.getsockname(listener)
        let client = try Posix.socket(domain: AF_INET, type: ccorral_SOCK_STREAM, blocking: true)
        do {
            // Blocking: `.wouldBlock` stands for EINTR here, and the lab blocks its signals.
            guard case .processed = try Posix.connect(client, address) else { throw SystemError("connect", errno: .interrupted) }
        } catch {
            Posix.close(client)
            throw error
        }
        // The runtime's accept4 wrapper makes the socket non-blocking; the responder blocks.
        guard case .processed(let server) = try Posix.accept4(listener) else { throw SystemError("accept4", errno: .wouldBlock) }
        try Posix.fcntlSetFlags(server, try Posix.fcntlGetFlags(server) & ~O_NONBLOCK)
        return (client, server)
    }

    /// The server: reads 30-byte messages, answers each with 2 bytes, until EOF.
    private static func respond(_ fd: CInt) {
        defer { Posix.close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        var pending = 0
        let reply: [UInt8] = [0x4f, 0x4b]
        while true {
            // End of file or an error (the client reset): the exchange is over; the client
            // sees any failure as its own short reply.
            guard case .processed(let n)? = try? buffer.withUnsafeMutableBytes({ try Posix.read(fd, $0) }), n > 0 else { return }
            pending += n
            while pending >= 30 {
                pending -= 30
                guard case .processed(2)? = try? reply.withUnsafeBytes({ try Posix.send(fd, $0, flags: 0) }) else { return }
            }
        }
    }

    private func configure(_ fd: CInt) throws {
        if mode == "nodelay" || mode == "writev" {
            try Posix.setsockopt(fd, CInt(IPPROTO_TCP), ccorral_TCP_NODELAY, CInt(1))
        }
    }

    private static let piece: [UInt8] = [0x61, 0x62]

    private func sendMessage(_ fd: CInt) throws {
        switch mode {
        case "writev":
            var iov = [iovec](repeating: iovec(), count: 15)
            try Self.piece.withUnsafeBytes { piece in
                for i in 0..<15 { iov[i] = iovec(iov_base: UnsafeMutableRawPointer(mutating: piece.baseAddress), iov_len: 2) }
                guard case .processed(30) = try Posix.writev(fd, iov, count: 15) else { throw SystemError("writev (short)", errno: .ioError) }
            }
        case "cork":
            try Posix.setsockopt(fd, CInt(IPPROTO_TCP), ccorral_TCP_CORK, CInt(1))
            for _ in 0..<15 { try sendPiece(fd, flags: 0) }
            try Posix.setsockopt(fd, CInt(IPPROTO_TCP), ccorral_TCP_CORK, CInt(0))
        case "msg_more":
            for i in 0..<15 { try sendPiece(fd, flags: i < 14 ? ccorral_MSG_MORE : 0) }
        default:
            for _ in 0..<15 { try sendPiece(fd, flags: 0) }
        }
    }

    private func sendPiece(_ fd: CInt, flags: CInt) throws {
        guard case .processed(2) = try Self.piece.withUnsafeBytes({ try Posix.send(fd, $0, flags: flags) }) else {
            throw SystemError("send (short)", errno: .ioError)
        }
    }

    private func receiveReply(_ fd: CInt) throws {
        var got = 0
        var reply: (UInt8, UInt8) = (0, 0)
        while got < 2 {
            let start = got
            guard case .processed(let n) = try withUnsafeMutableBytes(of: &reply, { try Posix.read(fd, UnsafeMutableRawBufferPointer(rebasing: $0[start...])) }),
                  n > 0 else { throw SystemError("read (no reply)", errno: .brokenPipe) }
            got += n
        }
    }

    /// The same exchange through the runtime: 15 `write`s and one `flush` per message.
    /// The latencies of the counted rounds and the counters read (on the loop) when they began.
    private func corralRounds(_ fd: CInt, counters: @escaping () throws -> TCPCounters) throws -> ([UInt64], TCPCounters) {
        let loop = try EventLoop(index: 0)
        try loop.start()
        defer { loop.shutdown() }
        let done = try OneShotSignal()
        let client = NagleCorralClient(rounds: rounds, warmup: warmup, counters: counters, done: done)
        try Posix.fcntlSetFlags(fd, try Posix.fcntlGetFlags(fd) | O_NONBLOCK)
        let duplicate = try Posix.duplicate(fd)  // the Connection owns (and closes) its descriptor
        loop.execute { Connection.adopt(OwnedDescriptor(adopting: duplicate), on: loop, handler: client) }
        done.wait()
        // The server reads EOF and ends (the duplicate is closed). ENOTCONN would mean the
        // connection is already gone, which ends the server as well: nothing to report.
        _ = try? Posix.shutdown(fd, how: CInt(SHUT_WR))
        guard let before = try client.before?.get() else { throw LabSkip("corral mode ended before its counted rounds") }
        return (client.latencies, before)
    }
}

/// The runtime side of the `corral` mode.
final class NagleCorralClient: ConnectionHandler, @unchecked Sendable {
    let rounds: Int
    let warmup: Int
    let counters: () throws -> TCPCounters
    let done: OneShotSignal
    var latencies: [UInt64] = []
    /// TCP counters when the first counted round began (the loop thread shares the namespace).
    var before: Result<TCPCounters, any Error>?
    private var warmed = 0
    private var received = 0
    private var start: UInt64 = 0

    init(rounds: Int, warmup: Int, counters: @escaping () throws -> TCPCounters, done: OneShotSignal) {
        self.rounds = rounds
        self.warmup = warmup
        self.counters = counters
        self.done = done
        latencies.reserveCapacity(rounds)
    }

    func connectionDidOpen(_ connection: Connection) {
        if warmup == 0 { before = Result { try counters() } }
        send(connection)
    }

    private func send(_ connection: Connection) {
        start = monotonicNanoseconds()
        let piece: [UInt8] = [0x61, 0x62]
        for _ in 0..<15 { connection.write(piece) }
        connection.flush()
    }

    func connection(_ connection: Connection, didRead buffer: UnsafeRawBufferPointer) -> Int {
        received += buffer.count
        while received >= 2 {
            received -= 2
            if warmed < warmup {
                warmed += 1
                if warmed == warmup { before = Result { try counters() } }
                send(connection)
                continue
            }
            latencies.append(monotonicNanoseconds() - start)
            if latencies.count == rounds {
                connection.shutdownWriteAfterFlush()
                connection.close()
                return buffer.count
            }
            send(connection)
        }
        return buffer.count
    }

    func connectionDidClose(_ connection: Connection, reason: CloseReason) { done.signal() }
}
