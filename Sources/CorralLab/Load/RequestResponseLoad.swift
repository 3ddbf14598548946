import CorralRuntime

/// Closed-loop request/response load over the runtime (`corral bench rr`): each connection
/// sends `size` bytes, waits for `size` bytes back, records the round trip, and repeats until
/// the deadline. Against an echo server this is netperf's TCP_RR.
public struct RequestResponseLoad: Sendable {
    public var target: SocketAddress
    public var connections = 1
    public var durationSeconds = 5.0
    public var size = 64
    public var loops = 1

    public init(target: SocketAddress) { self.target = target }

    /// The outcome of one run.
    public struct Result: Sendable {
        public var requests: Int
        public var seconds: Double
        public var latency: LatencyRecorder
        public var perConnection: [Int]
        public var errors: [String]
        public var requestsPerSecond: Double { seconds > 0 ? Double(requests) / seconds : 0 }
    }

    /// Runs the load and blocks until every connection has finished.
    public func run() throws -> Result {
        precondition(connections > 0 && size > 0 && durationSeconds > 0)
        let group = try EventLoopGroup(loopCount: max(1, min(loops, connections)))
        try group.start()
        defer { group.shutdown() }
        let tally = Tally(connections: connections)
        let payload = ByteChunk((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        let start = monotonicNanoseconds()
        let deadline = start + UInt64(durationSeconds * 1e9)
        for i in 0..<connections {
            let loop = group.loops[i % group.loops.count]
            let target = self.target
            loop.execute {
                let client = RRClient(index: i, payload: payload, deadline: deadline, tally: tally)
                do {
                    _ = try Connection.connect(to: target, on: loop, handler: client)
                } catch {
                    tally.finish(index: i, requests: 0, latency: LatencyRecorder(), error: "\(error)")
                }
            }
            // A connection whose server stops answering is closed a little after the deadline.
            loop.execute {
                loop.schedule(afterNanoseconds: deadline - min(deadline, monotonicNanoseconds()) + 2_000_000_000) {
                    tally.expire(on: loop)
                }
            }
        }
        tally.done.wait()
        let seconds = Double(monotonicNanoseconds() - start) / 1e9
        return tally.result(seconds: min(seconds, durationSeconds))
    }
}

/// Collects per-connection results from every loop.
final class Tally: @unchecked Sendable {
    let done: OneShotSignal
    private let state: Locked<(left: Int, requests: [Int], latency: LatencyRecorder, errors: [String])>
    private let liveByLoop = Locked<[ObjectIdentifier: [RRClient]]>([:])

    init(connections: Int) {
        done = try! OneShotSignal()
        state = Locked((connections, Array(repeating: 0, count: connections), LatencyRecorder(), []))
    }

    func register(_ client: RRClient, loop: EventLoop) {
        liveByLoop.withLock { $0[ObjectIdentifier(loop), default: []].append(client) }
    }

    func expire(on loop: EventLoop) {
        let clients = liveByLoop.withLock { $0[ObjectIdentifier(loop)] ?? [] }
        for client in clients { client.expire() }
    }

    func finish(index: Int, requests: Int, latency: LatencyRecorder, error: String?) {
        let last = state.withLock { state -> Bool in
            state.requests[index] = requests
            state.latency.merge(latency)
            if let error { state.errors.append(error) }
            state.left -= 1
            return state.left == 0
        }
        if last { done.signal() }
    }

    func result(seconds: Double) -> RequestResponseLoad.Result {
        state.withLock { state in
            .init(requests: state.requests.reduce(0, +), seconds: seconds, latency: state.latency,
                  perConnection: state.requests, errors: state.errors)
        }
    }
}

/// One closed-loop connection.
/// Loop-bound; Sendable only so the tally can hold it for the expiry sweep on the same loop.
final class RRClient: ConnectionHandler, @unchecked Sendable {
    let index: Int
    let payload: ByteChunk
    let deadline: UInt64
    let tally: Tally
    var received = 0
    var sentAt: UInt64 = 0
    var requests = 0
    var latency = LatencyRecorder()
    var finished = false
    weak var connection: Connection?

    init(index: Int, payload: ByteChunk, deadline: UInt64, tally: Tally) {
        self.index = index
        self.payload = payload
        self.deadline = deadline
        self.tally = tally
    }

    func connectionDidOpen(_ connection: Connection) {
        self.connection = connection
        tally.register(self, loop: connection.loop)
        send(connection)
    }

    private func send(_ connection: Connection) {
        received = 0
        sentAt = monotonicNanoseconds()
        connection.write(payload)
        connection.flush()
    }

    func connection(_ connection: Connection, didRead buffer: UnsafeRawBufferPointer) -> Int {
        received += buffer.count
        if received >= payload.count {
            let now = monotonicNanoseconds()
            latency.record(nanoseconds: now - sentAt)
            requests += 1
            if now >= deadline {
                connection.close()
            } else {
                send(connection)
            }
        }
        return buffer.count
    }

    func expire() { connection?.close(reason: .timedOut) }

    func connectionDidClose(_ connection: Connection, reason: CloseReason) {
        guard !finished else { return }
        finished = true
        tally.finish(index: index, requests: requests, latency: latency, error: reason.isOrderly ? nil : "\(reason)")
    }
}
