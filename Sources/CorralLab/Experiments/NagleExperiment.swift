import CCorral
import CorralRuntime
import Glibc

/// `corral lab nagle` (seed 004, acme's "earthquaky kernel interfaces"): a 30-byte logical
/// message written as 15 two-byte writes, answered by 2 bytes, under each way of writing it.
public struct NagleExperiment: LabExperiment {
    public init() {}

    public var name: String { "nagle" }
    public var seed: String { "004" }
    public var title: String { "Small writes: Nagle, TCP_NODELAY, TCP_CORK, MSG_MORE, writev" }
    public var question: String {
        "What does a message written in 15 small pieces cost per round trip, in time and in TCP segments, with Nagle's algorithm, with each way around it, and with Corral's own write API left at its defaults?"
    }
    public var method: String {
        "A client sends a 30-byte message as 15 × 2-byte writes and waits for a 2-byte reply from a server thread, round after round, over 127.0.0.1. "
            + "Modes: default (Nagle on), nodelay (TCP_NODELAY), cork (TCP_CORK set, 15 writes, cork cleared), msg_more (MSG_MORE on the first 14 sends), "
            + "writev (one writev of 15 pieces, TCP_NODELAY), corral (Connection.write 15 times, then one flush, on an event loop, no configuration). "
            + "Segments are /proc/net/snmp OutSegs over the counted rounds ÷ round trips, after 50 uncounted warm-up rounds (2 for default) that take the new connection out of quick-ACK mode (both directions: on loopback every segment is sent in the namespace). "
            + "The measuring thread moves into a private network namespace (unshare CLONE_NEWNET, needs root) so nothing else is counted; without it the counts include the machine's other traffic and the table says so. "
            + "The default mode stalls for a delayed ACK (~40 ms) per round trip, so it runs far fewer rounds; seconds per 10 000 round trips are extrapolated from the mean."
    }

    static let modes = ["default", "nodelay", "cork", "msg_more", "writev", "corral"]

    public func grid(quick: Bool) -> [LabPoint] {
        LabGrid.product([("mode", Self.modes), ("scale", [quick ? "quick" : "full"])])
    }

    public var columns: [LabColumn] {
        [
            .parameter("mode"),
            .figure("rounds", title: "round trips", precision: 0),
            .figure("rtt_p50_us", title: "RTT p50", unit: "µs"),
            .figure("rtt_mean_us", title: "RTT mean", unit: "µs"),
            .figure("seconds_per_10k", title: "s per 10 000", precision: 2),
            .figure("segments_per_message", title: "segments/msg", precision: 2),
            .figure("private_netns", title: "private netns", precision: 0),
        ]
    }

    public var charts: [LabChart] {
        [
            LabChart(title: "Round trip, mean", figure: "rtt_mean_us", x: "mode", unit: "µs", logScale: true),
            LabChart(title: "TCP segments per 30-byte message (both directions)", figure: "segments_per_message", x: "mode"),
        ]
    }

    public func estimatedSeconds(quick: Bool) -> Double? { quick ? 4 : 12 }

    public func run(point: LabPoint) throws -> [String: Double] {
        guard let mode = point["mode"], Self.modes.contains(mode) else { throw LabSkip("unknown mode") }
        let quick = point["scale"] == "quick"
        let rounds = mode == "default" ? (quick ? 10 : 25) : (quick ? 300 : 2000)
        // Uncounted rounds first: a new connection ACKs every segment at once (quick-ACK mode)
        // for its first few segments, which would inflate short runs' segment counts.
        let warmup = mode == "default" ? 2 : 50
        let box = NagleResultBox()
        let done = try OneShotSignal()
        // Namespaces belong to threads: a fresh thread can move into its own without touching
        // the rest of the process.
        let thread = try Threads.spawn(name: "lab-nagle") {
            box.result = Result { try NagleRun(mode: mode, rounds: rounds, warmup: warmup).measure() }
            done.signal()
        }
        done.wait()
        Threads.join(thread)
        return try box.result!.get()
    }

    public func todayFigures(for points: [LabPointResult]) -> [String: String] {
        func seconds(_ mode: String) -> String? {
            guard let p = points.first(where: { $0.parameters["mode"] == mode }), let s = p.median("seconds_per_10k"),
                  let seg = p.median("segments_per_message") else { return nil }
            return String(format: "%.2f s (%.1f segments/message)", s, seg)
        }
        var today: [String: String] = [:]
        today["nagle_default"] = seconds("default")
        today["nagle_nodelay"] = seconds("nodelay")
        today["nagle_cork"] = seconds("cork")
        return today
    }

    public func notes(for points: [LabPointResult]) -> [String] {
        func seg(_ mode: String) -> Double? { points.first { $0.parameters["mode"] == mode }?.median("segments_per_message") }
        var notes: [String] = []
        if let d = seg("default"), let n = seg("nodelay"), let c = seg("corral") {
            notes.append(String(format: "Segments per message: default %.1f, nodelay %.1f, corral %.1f. Corral's write+flush gathers the 15 pieces into one sendmsg, so it sends what cork and writev send without any socket option.", d, n, c))
        }
        func per10k(_ mode: String) -> Double? { points.first { $0.parameters["mode"] == mode }?.median("seconds_per_10k") }
        if let d = per10k("default"), let n = per10k("nodelay"), let c = per10k("cork"), n > 0, c > 0 {
            notes.append(String(format: "Seed (2008, loopback): 400 s / 1.65 s / 0.85 s per 10 000 round trips, i.e. default %.0f× nodelay and nodelay %.2f× cork. Today: %.2f s / %.2f s / %.2f s, i.e. default %.0f× nodelay and nodelay %.2f× cork.", 400 / 1.65, 1.65 / 0.85, d, n, c, d / n, n / c))
        }
        if let d = points.first(where: { $0.parameters["mode"] == "default" })?.median("rounds") {
            notes.append(String(format: "The default mode ran only %.0f round trips (each waits ~40 ms for a delayed ACK); its seconds per 10 000 are extrapolated from the mean.", d))
        }
        if points.contains(where: { $0.median("private_netns") == 0 }) {
            notes.append("Some runs could not use a private network namespace (not root?): their segment counts include other traffic on this machine.")
        }
        return notes
    }
}

final class NagleResultBox: @unchecked Sendable {
    var result: Result<[String: Double], any Error>?
}

/// One measurement, on the calling thread (which it may move into a private network namespace).
struct NagleRun {
    let mode: String
    let rounds: Int
    var warmup = 0

    func measure() throws -> [String: Double] {
        let privateNamespace = ccorral_private_network_for_thread() == 0
        let snmpPath = privateNamespace ? "/proc/thread-self/net/snmp" : "/proc/net/snmp"
        let (client, server) = try connectedPair()
        defer {
            close(client)
        }
        let responder = try Threads.spawn(name: "lab-nagle-srv") { Self.respond(server) }
        defer { Threads.join(responder) }
        var before: TCPCounters
        var latencies: [UInt64]
        if mode == "corral" {
            (latencies, before) = try corralRounds(client, snmpPath: snmpPath)
        } else {
            try configure(client)
            for _ in 0..<warmup {
                try sendMessage(client)
                try receiveReply(client)
            }
            before = try Self.counters(snmpPath)
            latencies = []
            latencies.reserveCapacity(rounds)
            for _ in 0..<rounds {
                let start = monotonicNanoseconds()
                try sendMessage(client)
                try receiveReply(client)
                latencies.append(monotonicNanoseconds() - start)
            }
            shutdown(client, CInt(SHUT_WR))
        }
        let after = try Self.counters(snmpPath)
        latencies.sort()
        let mean = Double(latencies.reduce(0, +)) / Double(max(1, latencies.count))
        return [
            "rounds": Double(rounds),
            "rtt_p50_us": Double(latencies[latencies.count / 2]) / 1000,
            "rtt_mean_us": mean / 1000,
            "seconds_per_10k": mean * 10_000 / 1e9,
            "segments_per_message": Double(after.outSegments - before.outSegments) / Double(rounds),
            "private_netns": privateNamespace ? 1 : 0,
        ]
    }

    fileprivate static func counters(_ path: String) throws -> TCPCounters {
        guard let text = ProcFile.read(path), let parsed = TCPCounters.parse(snmp: text, netstat: nil) else {
            throw LabSkip("cannot read \(path)")
        }
        return parsed
    }

    /// A blocking client socket connected to a blocking accepted one, over 127.0.0.1.
    private func connectedPair() throws -> (CInt, CInt) {
        let listener = socket(AF_INET, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard listener >= 0 else { throw SystemError("socket", errno: .init(rawValue: errno)) }
        defer { close(listener) }
        let any = SocketAddress.ipv4(host: "127.0.0.1", port: 0)
        guard any.withSockAddr({ bind(listener, $0, $1) }) == 0, Glibc.listen(listener, 1) == 0 else {
            throw SystemError("bind/listen", errno: .init(rawValue: errno))
        }
        let address = try Posix.getsockname(listener)
        let client = socket(AF_INET, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard client >= 0, address.withSockAddr({ Glibc.connect(client, $0, $1) }) == 0 else {
            throw SystemError("connect", errno: .init(rawValue: errno))
        }
        // The runtime's accept4 wrapper makes the socket non-blocking; the responder blocks.
        guard case .processed(let server) = try Posix.accept4(listener) else { throw SystemError("accept4", errno: .wouldBlock) }
        try Posix.fcntlSetFlags(server, try Posix.fcntlGetFlags(server) & ~O_NONBLOCK)
        return (client, server)
    }

    /// The server: reads 30-byte messages, answers each with 2 bytes, until EOF.
    private static func respond(_ fd: CInt) {
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        var pending = 0
        let reply: [UInt8] = [0x4f, 0x4b]
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, 4096, 0) }
            if n <= 0 { return }
            pending += n
            while pending >= 30 {
                pending -= 30
                _ = reply.withUnsafeBytes { send(fd, $0.baseAddress!, 2, CInt(MSG_NOSIGNAL)) }
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
                guard writev(fd, iov, 15) == 30 else { throw SystemError("writev", errno: .init(rawValue: errno)) }
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
        let sent = Self.piece.withUnsafeBytes { send(fd, $0.baseAddress!, 2, flags | CInt(MSG_NOSIGNAL)) }
        guard sent == 2 else { throw SystemError("send", errno: .init(rawValue: errno)) }
    }

    private func receiveReply(_ fd: CInt) throws {
        var got = 0
        var reply: (UInt8, UInt8) = (0, 0)
        while got < 2 {
            let n = withUnsafeMutableBytes(of: &reply) { recv(fd, $0.baseAddress! + got, 2 - got, 0) }
            guard n > 0 else { throw SystemError("recv", errno: .init(rawValue: n == 0 ? EPIPE : errno)) }
            got += n
        }
    }

    /// The same exchange through the runtime: 15 `write`s and one `flush` per message.
    /// The latencies of the counted rounds and the counters read (on the loop) when they began.
    private func corralRounds(_ fd: CInt, snmpPath: String) throws -> ([UInt64], TCPCounters) {
        let loop = try EventLoop(index: 0)
        try loop.start()
        defer { loop.shutdown() }
        let done = try OneShotSignal()
        let client = NagleCorralClient(rounds: rounds, warmup: warmup, snmpPath: snmpPath, done: done)
        try Posix.fcntlSetFlags(fd, try Posix.fcntlGetFlags(fd) | O_NONBLOCK)
        let duplicate = dup(fd)  // the Connection owns (and closes) its descriptor
        loop.execute { Connection.adopt(OwnedDescriptor(adopting: duplicate), on: loop, handler: client) }
        done.wait()
        shutdown(fd, CInt(SHUT_WR))  // the server reads EOF and ends (the duplicate is closed)
        guard let before = try client.before?.get() else { throw LabSkip("corral mode ended before its counted rounds") }
        return (client.latencies, before)
    }
}

/// The runtime side of the `corral` mode.
final class NagleCorralClient: ConnectionHandler, @unchecked Sendable {
    let rounds: Int
    let warmup: Int
    let snmpPath: String
    let done: OneShotSignal
    var latencies: [UInt64] = []
    /// TCP counters when the first counted round began (the loop thread shares the namespace).
    var before: Result<TCPCounters, any Error>?
    private var warmed = 0
    private var received = 0
    private var start: UInt64 = 0

    init(rounds: Int, warmup: Int, snmpPath: String, done: OneShotSignal) {
        self.rounds = rounds
        self.warmup = warmup
        self.snmpPath = snmpPath
        self.done = done
        latencies.reserveCapacity(rounds)
    }

    func connectionDidOpen(_ connection: Connection) {
        if warmup == 0 { before = Result { try NagleRun.counters(snmpPath) } }
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
                if warmed == warmup { before = Result { try NagleRun.counters(snmpPath) } }
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
