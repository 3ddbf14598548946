import CorralRuntime
import Logging

/// What the HTTP server keeps per event loop: the Date header, the access log's batch of
/// lines, the endpoints (one per listener) whose connections the once-a-second tick checks for
/// timeouts. Loop-thread only: no locks.
final class LoopContext {
    let loop: EventLoop
    let configuration: HTTPServerConfiguration
    let timerLimits: ConnectionTimer.Limits
    let logger: Logger
    let date = DateCache()
    let accessLog: LoopAccessLog?
    private(set) var endpoints: [LoopEndpoint] = []
    private var tick: TimerHandle?
    @exclusivity(unchecked) private(set) var draining = false

    init(loop: EventLoop, configuration: HTTPServerConfiguration, accessLog: LogWriter?, logger: Logger) {
        self.loop = loop
        self.configuration = configuration
        self.logger = logger
        timerLimits = ConnectionTimer.Limits(
            headerSeconds: configuration.headerTimeout, keepAliveSeconds: configuration.keepAliveTimeout,
            bodySeconds: configuration.bodyTimeout, writeSeconds: configuration.writeTimeout,
            lingerSeconds: configuration.lingerTimeout)
        self.accessLog = accessLog.map {
            LoopAccessLog(writer: $0, format: configuration.accessLog?.format ?? .combined, now: wallClockSeconds())
        }
    }

    func add(_ endpoint: LoopEndpoint) { endpoints.append(endpoint) }

    /// Scratch space for response heads (reused: no allocation per response).
    @exclusivity(unchecked) private var head: [UInt8] = []

    /// A response head: status line, Server, Date, `fields`, Connection (`close` when the
    /// connection will close, `keep-alive` for a persistent HTTP/1.0 one), the blank line.
    /// Valid until the next call.
    func renderHead(status: HTTPStatus, fields: [UInt8], keepAlive: Bool, minorVersion: Int) -> [UInt8] {
        head.removeAll(keepingCapacity: true)
        head.append(contentsOf: ResponseBytes.statusLine(status))
        head.append(contentsOf: ResponseBytes.serverAndDate)
        head.append(contentsOf: date.bytes)
        head.append(contentsOf: ResponseBytes.crlf)
        head.append(contentsOf: fields)
        if !keepAlive {
            head.append(contentsOf: ResponseBytes.connectionClose)
        } else if minorVersion == 0 {
            head.append(contentsOf: ResponseBytes.connectionKeepAlive)
        }
        head.append(contentsOf: ResponseBytes.crlf)
        return head
    }

    /// Starts the 1-second tick (loop thread).
    func start() {
        scheduleTick()
    }

    private func scheduleTick() {
        tick = loop.schedule(afterNanoseconds: 1_000_000_000) { [weak self] in
            guard let self else { return }
            self.date.refresh()
            for endpoint in self.endpoints { endpoint.sweep(now: self.loop.now) }
            if let accessLog = self.accessLog {
                accessLog.time.refresh(now: wallClockSeconds())
                accessLog.handOver()
            }
            self.scheduleTick()
        }
    }

    /// Stops the tick, closes the connections a drain left open, and hands over the last log
    /// lines (loop thread).
    func stop() {
        tick?.cancel()
        for endpoint in endpoints { endpoint.closeAll() }
        accessLog?.handOver()
    }

    /// Graceful stop: idle connections close now, busy ones after their current response.
    func drain() {
        draining = true
        for endpoint in endpoints { endpoint.drain() }
    }
}

/// One listener's share of a loop: what answers its requests, its connection limit and
/// counters, and its open connections (checked by the tick for timeouts, closed on a drain).
final class LoopEndpoint {
    let responder: any HTTPResponder
    let stats: ServerStats
    /// Open connections beyond this (all loops together) are answered 503 and closed.
    let maxConnections: Int
    private(set) var connections: [HTTPConnectionHandler] = []

    init(responder: any HTTPResponder, stats: ServerStats, maxConnections: Int) {
        self.responder = responder
        self.stats = stats
        self.maxConnections = maxConnections
    }

    func add(_ handler: HTTPConnectionHandler) {
        handler.slot = connections.count
        connections.append(handler)
    }

    func remove(_ handler: HTTPConnectionHandler) {
        let slot = handler.slot
        guard slot >= 0, slot < connections.count, connections[slot] === handler else { return }
        let last = connections.removeLast()
        if slot < connections.count {
            connections[slot] = last
            last.slot = slot
        }
        handler.slot = -1
    }

    /// Ends connections whose deadline has passed: a linear scan once a second (10 000
    /// connections cost microseconds, and no timer is armed per request).
    func sweep(now: UInt64) {
        responder.tick(now: now)
        var expired: [(HTTPConnectionHandler, ConnectionTimer.Expiry)] = []
        for handler in connections {
            if let expiry = handler.checkTimeout(now: now) { expired.append((handler, expiry)) }
        }
        for (handler, expiry) in expired {
            stats.timedOut()
            handler.timeOut(expiry)
        }
    }

    func drain() {
        for handler in connections { handler.drain() }
    }

    /// Closes whatever is still open (the end of a drain).
    func closeAll() {
        for handler in connections { handler.abort() }
    }
}

/// The access-log lines of one loop, batched: handed to the writer thread when 32 KiB have
/// gathered or at the loop's tick, so a busy loop pays one short lock per batch and an idle
/// one shows its lines within a second.
final class LoopAccessLog {
    let writer: LogWriter
    let format: AccessLogFormat
    var time: LogTimeStamp
    private var buffer: [UInt8] = []
    private var lines = 0
    private static let batchBytes = 32 * 1024

    init(writer: LogWriter, format: AccessLogFormat, now: Int) {
        self.writer = writer
        self.format = format
        time = LogTimeStamp(format: format, now: now)
    }

    func append(_ line: AccessLogLine, bytes: Int, nanoseconds: UInt64) {
        if buffer.capacity == 0 { buffer.reserveCapacity(Self.batchBytes + 4096) }
        line.render(bytes: bytes, nanoseconds: nanoseconds, into: &buffer)
        lines += 1
        if buffer.count >= Self.batchBytes { handOver() }
    }

    func handOver() {
        guard !buffer.isEmpty else { return }
        writer.submit(buffer, lines: lines)
        buffer = []
        lines = 0
    }
}

/// The Date header value of one loop, rendered once per second by the loop's tick.
final class DateCache {
    @exclusivity(unchecked) private(set) var bytes: [UInt8]
    private var second: Int

    init() {
        second = wallClockSeconds()
        bytes = Array(HTTPDate.format(second).utf8)
    }

    func refresh() {
        let now = wallClockSeconds()
        if now != second {
            second = now
            bytes = Array(HTTPDate.format(now).utf8)
        }
    }
}
