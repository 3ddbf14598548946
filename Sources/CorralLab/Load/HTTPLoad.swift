import CorralRuntime

/// HTTP/1.1 load over the runtime (`corral bench http`): C keep-alive connections, each with
/// K requests pipelined. Closed loop by default (the next batch leaves when the last response
/// arrived); with `rate`, requests leave on a fixed schedule whatever the server does, and
/// each latency is measured from when the request *should* have left, so a stalled server is
/// charged for the requests it held up (the coordinated-omission correction of wrk2).
public struct HTTPLoad: Sendable {
    public var target: SocketAddress
    public var host: String
    public var path: String
    public var connections = 10
    public var durationSeconds = 5.0
    public var pipeline = 1
    /// Requests per second over all connections; nil for closed loop.
    public var rate: Double? = nil
    public var loops = 1
    /// One request per connection (`Connection: close`, as `wrk -H "Connection: close"`): each
    /// of the `connections` clients connects, sends one request, reads the response, closes
    /// and connects again. Closed loop only (no `rate`, no pipelining).
    public var oneRequestPerConnection = false

    public init(target: SocketAddress, host: String, path: String) {
        self.target = target
        self.host = host
        self.path = path
    }

    public struct Result: Sendable {
        public var requests: Int
        public var seconds: Double
        public var latency: LatencyRecorder
        public var perConnection: [Int]
        public var statusCounts: [Int: Int]
        public var errors: [String]
        public var requestsPerSecond: Double { seconds > 0 ? Double(requests) / seconds : 0 }
    }

    public func run() throws -> Result {
        precondition(connections > 0 && pipeline > 0 && durationSeconds > 0)
        precondition(!oneRequestPerConnection || (pipeline == 1 && rate == nil))
        let group = try EventLoopGroup(loopCount: max(1, min(loops, connections)))
        try group.start()
        defer { group.shutdown() }
        let close = oneRequestPerConnection ? "Connection: close\r\n" : ""
        let request = ByteChunk(Array("GET \(path) HTTP/1.1\r\nHost: \(host)\r\n\(close)\r\n".utf8))
        let tally = HTTPTally(connections: connections)
        let start = monotonicNanoseconds()
        let deadline = start + UInt64(durationSeconds * 1e9)
        let interval = rate.map { UInt64(Double(connections) / $0 * 1e9) }
        for i in 0..<connections {
            let loop = group.loops[i % group.loops.count]
            let target = self.target
            let pipeline = self.pipeline
            loop.execute {
                let client = HTTPLoadClient(
                    index: i, request: request, pipeline: pipeline, interval: interval,
                    start: start + (interval.map { $0 * UInt64(i) / UInt64(max(1, connections)) } ?? 0),
                    deadline: deadline, tally: tally, reconnectTo: oneRequestPerConnection ? target : nil)
                do {
                    _ = try Connection.connect(to: target, on: loop, handler: client)
                } catch {
                    tally.finish(index: i, requests: 0, latency: LatencyRecorder(), statuses: [:], error: "\(error)")
                }
            }
            loop.execute {
                loop.schedule(afterNanoseconds: deadline - min(deadline, monotonicNanoseconds()) + 2_000_000_000) {
                    tally.expire(on: loop)
                }
            }
        }
        tally.done.wait()
        let seconds = min(Double(monotonicNanoseconds() - start) / 1e9, durationSeconds)
        return tally.result(seconds: seconds)
    }
}

final class HTTPTally: @unchecked Sendable {
    let done: OneShotSignal
    private let state: Locked<(left: Int, requests: [Int], latency: LatencyRecorder, statuses: [Int: Int], errors: [String])>
    private let live = Locked<[ObjectIdentifier: [HTTPLoadClient]]>([:])

    init(connections: Int) {
        done = try! OneShotSignal()
        state = Locked((connections, Array(repeating: 0, count: connections), LatencyRecorder(), [:], []))
    }

    func register(_ client: HTTPLoadClient, loop: EventLoop) {
        live.withLock { $0[ObjectIdentifier(loop), default: []].append(client) }
    }

    func expire(on loop: EventLoop) {
        for client in live.withLock({ $0[ObjectIdentifier(loop)] ?? [] }) { client.expire() }
    }

    func finish(index: Int, requests: Int, latency: LatencyRecorder, statuses: [Int: Int], error: String?) {
        let last = state.withLock { state -> Bool in
            state.requests[index] = requests
            state.latency.merge(latency)
            state.statuses.merge(statuses, uniquingKeysWith: +)
            if let error { state.errors.append(error) }
            state.left -= 1
            return state.left == 0
        }
        if last {
            live.withLock { $0 = [:] }  // the clients hold the tally: break the cycle once all are done
            done.signal()
        }
    }

    func result(seconds: Double) -> HTTPLoad.Result {
        state.withLock {
            .init(requests: $0.requests.reduce(0, +), seconds: seconds, latency: $0.latency, perConnection: $0.requests,
                  statusCounts: $0.statuses, errors: $0.errors)
        }
    }
}

/// One client of the load: sends, parses responses (status line, headers, Content-Length
/// body), records latencies. Keep-alive (one connection), or with `reconnectTo` one request
/// per connection: it closes after each response and connects again.
final class HTTPLoadClient: ConnectionHandler, @unchecked Sendable {
    let index: Int
    let request: ByteChunk
    let pipeline: Int
    let interval: UInt64?
    var nextSend: UInt64
    let deadline: UInt64
    let tally: HTTPTally
    /// Send (or intended send) times of the requests awaiting a response, oldest first.
    private var inFlight: [UInt64] = []
    private var inFlightHead = 0
    private var requests = 0
    private var statuses: [Int: Int] = [:]
    private var latency = LatencyRecorder()
    private var finished = false
    private var error: String?
    private weak var connection: Connection?
    private var timer: TimerHandle?
    private let reconnectTo: SocketAddress?
    private var registered = false

    init(index: Int, request: ByteChunk, pipeline: Int, interval: UInt64?, start: UInt64, deadline: UInt64, tally: HTTPTally,
         reconnectTo: SocketAddress? = nil) {
        self.reconnectTo = reconnectTo
        self.index = index
        self.request = request
        self.pipeline = pipeline
        self.interval = interval
        self.nextSend = start
        self.deadline = deadline
        self.tally = tally
    }

    private var outstanding: Int { inFlight.count - inFlightHead }

    func connectionDidOpen(_ connection: Connection) {
        self.connection = connection
        if !registered {
            registered = true
            tally.register(self, loop: connection.loop)
        }
        if interval != nil { sendScheduled(connection) } else { sendBatch(connection) }
    }

    private func sendBatch(_ connection: Connection) {
        let now = monotonicNanoseconds()
        for _ in 0..<pipeline {
            inFlight.append(now)
            connection.write(request)
        }
        connection.flush()
    }

    /// Constant rate: send everything whose time has come, then sleep until the next one.
    private func sendScheduled(_ connection: Connection) {
        guard let interval else { return }
        let now = monotonicNanoseconds()
        var sent = 0
        while nextSend <= now && nextSend < deadline && outstanding < 10_000 {
            inFlight.append(nextSend)
            connection.write(request)
            nextSend += interval
            sent += 1
        }
        if sent > 0 { connection.flush() }
        if nextSend < deadline {
            let wait = nextSend > now ? nextSend - now : 1_000_000
            timer = connection.loop.schedule(afterNanoseconds: wait) { [weak self, weak connection] in
                guard let self, let connection, connection.isOpen else { return }
                self.sendScheduled(connection)
            }
        }
    }

    func connection(_ connection: Connection, didRead buffer: UnsafeRawBufferPointer) -> Int {
        var offset = 0
        while offset < buffer.count {
            guard let (status, length) = Self.parseResponse(UnsafeRawBufferPointer(rebasing: buffer[offset...])) else { break }
            if length < 0 {
                error = "malformed response"
                connection.close()
                return buffer.count
            }
            offset += length
            let now = monotonicNanoseconds()
            if inFlightHead < inFlight.count {
                latency.record(nanoseconds: now - min(now, inFlight[inFlightHead]))
                inFlightHead += 1
            }
            if inFlightHead > 1024 && inFlightHead * 2 > inFlight.count {
                inFlight.removeFirst(inFlightHead)
                inFlightHead = 0
            }
            requests += 1
            statuses[status, default: 0] += 1
        }
        if outstanding == 0 {
            if reconnectTo != nil {
                connection.close()  // and connect again (connectionDidClose), as wrk does
            } else if monotonicNanoseconds() >= deadline || (interval != nil && nextSend >= deadline) {
                connection.close()
            } else if interval == nil {
                sendBatch(connection)
            }
        }
        return offset
    }

    /// (status, bytes of the whole response) once complete; nil if more is needed; length -1
    /// if malformed or without Content-Length (this client reads only framed responses).
    static func parseResponse(_ bytes: UnsafeRawBufferPointer) -> (Int, Int)? {
        guard bytes.count >= 12 else { return nil }
        var end = -1
        var i = 0
        while i + 3 < bytes.count {
            if bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 { end = i + 4; break }
            i += 1
        }
        guard end > 0 else { return bytes.count > 65536 ? (0, -1) : nil }
        let status = (9..<12).reduce(0) { $0 * 10 + Int(bytes[$1]) - 48 }
        var contentLength = -1
        var lineStart = 0
        for j in 0..<(end - 1) where bytes[j] == 13 && bytes[j + 1] == 10 {
            let line = UnsafeRawBufferPointer(rebasing: bytes[lineStart..<j])
            if line.count > 15, line[0] | 0x20 == UInt8(ascii: "c"),
                line.prefix(15).map({ $0 | 0x20 }).elementsEqual("content-length:".utf8)
            {
                contentLength = line.dropFirst(15).filter { $0 >= 48 && $0 <= 57 }.reduce(0) { $0 * 10 + Int($1) - 48 }
            }
            lineStart = j + 2
        }
        if status == 304 || status == 204 { contentLength = max(contentLength, 0) }
        guard contentLength >= 0 else { return (status, -1) }
        guard bytes.count - end >= contentLength else { return nil }
        return (status, end + contentLength)
    }

    func expire() { connection?.close(reason: .timedOut) }

    func connectionDidClose(_ connection: Connection, reason: CloseReason) {
        guard !finished else { return }
        if let target = reconnectTo, error == nil, reason.isOrderly, outstanding == 0, monotonicNanoseconds() < deadline {
            do {
                _ = try Connection.connect(to: target, on: connection.loop, handler: self)
                return
            } catch {
                self.error = "\(error)"
            }
        }
        finished = true
        timer?.cancel()
        let message = self.error ?? (reason.isOrderly ? nil : "\(reason)")
        tally.finish(index: index, requests: requests, latency: latency, statuses: statuses, error: message)
    }
}
