@_spi(Internals) import CorralRuntime
import HTTPTypes
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
    /// The isolation of the loop's worker tasks.
    let isolation: LoopIsolation
    /// The tasks that run async handlers and streamed bodies.
    let workers: LoopWorkers
    let accessLog: LoopAccessLog?
    private(set) var endpoints: [LoopEndpoint] = []
    private var tick: TimerHandle?
    /// Also run by the tick, once a second (the first loop's reports the metrics).
    var everySecond: (@Sendable () -> Void)?
    @exclusivity(unchecked) private(set) var draining = false

    init(loop: EventLoop, configuration: HTTPServerConfiguration, accessLog: LogWriter?, logger: Logger) {
        self.loop = loop
        isolation = LoopIsolation(loop: loop)
        workers = LoopWorkers(isolation: isolation)
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

    /// Status lines by code (index code - 100) with the reason phrase they carry, rendered at
    /// first use: loop-local, so neither a lock nor a lazy global's swift_once per response.
    /// (Each line's bytes are in `statusLineBytes`, memory of the context's own: appending one
    /// to a head retains no array.)
    @exclusivity(unchecked) private var statusLines = [(reason: String, start: Int, count: Int)](
        repeating: ("", 0, 0), count: 900)
    @exclusivity(unchecked) private var statusLineBytes = GrowableBytes()

    deinit { statusLineBytes.deallocate() }

    /// How a response's body is delimited, when the server adds the field.
    enum Framing {
        /// Nothing to add (the pre-rendered fields have it, or the status has no content).
        case none
        case length(Int)
        case chunked
        /// Unknown length to an HTTP/1.0 client: the end of the connection ends the body.
        case closeDelimited
    }

    /// The one renderer of response heads: status line, Server, Date, then the fields (the
    /// server's pre-rendered lines; or a handler's `HTTPFields`, less the fields that are the
    /// server's: framing, Connection, Date; and the framing), Connection (`close` when the
    /// connection will close, `keep-alive` for a persistent HTTP/1.0 one), the blank line.
    /// Appended to `out`: the connection's outbound staging (`Connection.writeStaged`), so a head
    /// is written once, where it is sent from (a scratch buffer cost a second copy, ~240
    /// instructions of memcpy and queue bookkeeping per response).
    func renderHead(code: Int, fields: [UInt8], keepAlive: Bool, minorVersion: Int, into out: inout GrowableBytes) {
        appendStatusLine(code: code, reason: "", to: &out)
        out.append(date.serverAndDate)
        Self.append(fields, to: &out)
        Self.appendConnection(keepAlive: keepAlive, minorVersion: minorVersion, to: &out)
    }

    /// `renderHead` for a handler's response.
    func renderHead(status: HTTPResponse.Status, headerFields: HTTPFields, framing: Framing,
                    keepAlive: Bool, minorVersion: Int, into out: inout GrowableBytes) {
        appendStatusLine(code: status.code, reason: status.reasonPhrase, to: &out)
        out.append(date.serverAndDate)
        if !headerFields.isEmpty { appendFields(headerFields, to: &out) }
        switch framing {
        case .none, .closeDelimited:
            break
        case .length(let count):
            Self.append("Content-Length: ", to: &out)
            ASCII.withDigits(of: count.magnitude) { Self.append($0, to: &out) }
            Self.append("\r\n", to: &out)
        case .chunked:
            Self.append("Transfer-Encoding: chunked\r\n", to: &out)
        }
        Self.appendConnection(keepAlive: keepAlive, minorVersion: minorVersion, to: &out)
    }

    private static func appendConnection(keepAlive: Bool, minorVersion: Int, to out: inout GrowableBytes) {
        if !keepAlive {
            append("Connection: close\r\n", to: &out)
        } else if minorVersion == 0 {
            append("Connection: keep-alive\r\n", to: &out)
        }
        append("\r\n", to: &out)
    }

    @inline(__always) private static func append(_ bytes: UnsafeRawBufferPointer, to out: inout GrowableBytes) {
        out.append(bytes)
    }

    @inline(__always) private static func append(_ bytes: [UInt8], to out: inout GrowableBytes) {
        bytes.withUnsafeBytes { out.append($0) }
    }

    @inline(__always) private static func append(_ text: StaticString, to out: inout GrowableBytes) {
        out.append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// The status line for `code`, with `reason` ("": the standard phrase).
    private func appendStatusLine(code: Int, reason: String, to out: inout GrowableBytes) {
        guard code >= 100, code < 1000 else {
            var line: [UInt8] = []
            HTTPResponse.Status(code: min(max(code, 0), 999), reasonPhrase: reason).appendStatusLine(to: &line)
            Self.append(line, to: &out)
            return
        }
        let count = statusLines[code - 100].count
        if count > 0 && (reason.isEmpty || reason == statusLines[code - 100].reason) {
            let start = statusLineBytes.base.unsafelyUnwrapped + statusLines[code - 100].start
            out.append(UnsafeRawBufferPointer(start: start, count: count))
            return
        }
        let standard = HTTPResponse.Status.standard(code)
        var line: [UInt8] = []
        guard reason.isEmpty || reason == standard.reasonPhrase else {
            // A reason phrase of its own: rendered each time.
            HTTPResponse.Status(code: code, reasonPhrase: reason).appendStatusLine(to: &line)
            Self.append(line, to: &out)
            return
        }
        standard.appendStatusLine(to: &line)
        statusLines[code - 100] = (standard.reasonPhrase, statusLineBytes.count, line.count)
        Self.append(line, to: &statusLineBytes)
        Self.append(line, to: &out)
    }

    /// The field lines of `HTTPFields` values that answered twice in a row, by identity of their
    /// storage (each kept, so its storage cannot be freed and reused while it is here): a handler
    /// that answers with constant fields (a `let`) has them rendered once per loop. A value
    /// built per request never repeats and costs nothing here but a comparison.
    @exclusivity(unchecked) private var renderedFields: [(fields: HTTPFields, lines: [UInt8])] = []
    @exclusivity(unchecked) private var candidateFields: HTTPFields?
    @exclusivity(unchecked) private var nextEvicted = 0
    private static let renderedFieldsKept = 4

    /// Appends `name: value` lines, leaving out the fields the server writes itself.
    private func appendFields(_ fields: HTTPFields, to out: inout GrowableBytes) {
        for i in renderedFields.indices where Self.sameStorage(renderedFields[i].fields, fields) {
            Self.append(renderedFields[i].lines, to: &out)
            return
        }
        let start = out.count
        for field in fields {
            if Self.isServersOwn(field.name) { continue }
            var name = field.name.rawName
            name.withUTF8 { Self.append(UnsafeRawBufferPointer($0), to: &out) }
            Self.append(": ", to: &out)
            field.withUnsafeBytesOfValue { Self.append(UnsafeRawBufferPointer($0), to: &out) }
            Self.append("\r\n", to: &out)
        }
        guard let candidate = candidateFields, Self.sameStorage(candidate, fields) else {
            candidateFields = fields
            return
        }
        candidateFields = nil
        let entry = (fields, Array(out.bytes[start...]))
        if renderedFields.count < Self.renderedFieldsKept {
            renderedFields.append(entry)
        } else {
            renderedFields[nextEvicted] = entry
            nextEvicted = (nextEvicted + 1) % Self.renderedFieldsKept
        }
    }

    /// Whether `a` and `b` are the same value by storage (their bits are equal: for a
    /// copy-on-write collection, the same buffer, hence the same contents while one is held).
    private static func sameStorage(_ a: HTTPFields, _ b: HTTPFields) -> Bool {
        withUnsafeBytes(of: a) { x in withUnsafeBytes(of: b) { y in x.elementsEqual(y) } }
    }

    /// Framing, Connection and Date: decided by the server for every response.
    private static func isServersOwn(_ name: HTTPField.Name) -> Bool {
        let canonical = name.canonicalName
        switch canonical.utf8.count {
        case 4: return canonical == "date"
        case 10: return canonical == "connection"
        case 14: return canonical == "content-length"
        case 17: return canonical == "transfer-encoding"
        default: return false
        }
    }

    /// Starts the 1-second tick (loop thread).
    func start() {
        scheduleTick()
    }

    /// The tick holds the context strongly until `stop()` cancels it or the loop closes (either
    /// drops the callback, and with it the context, from the handle `tick` keeps). Not weakly: a weak reference gives the object a side table, and
    /// then every retain and release of the context, several per request, takes the runtime's
    /// slow path (~120 instructions per request in callgrind).
    private func scheduleTick() {
        tick = loop.schedule(afterNanoseconds: 1_000_000_000) { [self] in
            self.date.refresh()
            for endpoint in self.endpoints { endpoint.sweep(now: self.loop.now) }
            if let accessLog = self.accessLog {
                accessLog.time.refresh(now: wallClockSeconds())
                accessLog.handOver()
            }
            self.everySecond?()
            self.scheduleTick()
        }
    }

    /// Stops the tick, closes the connections a drain left open, ends the idle workers, and
    /// hands over the last log lines (loop thread).
    func stop() {
        tick?.cancel()
        for endpoint in endpoints { endpoint.closeAll() }
        workers.stop()
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

/// The Date header value of one loop, rendered once per second by the loop's tick, as the
/// `Server` and `Date` lines every response head starts with.
final class DateCache {
    /// `Server: corral\r\nDate: <HTTP-date>\r\n`, in memory of the cache's own (appending it
    /// to a head retains no array).
    @exclusivity(unchecked) private var lines = GrowableBytes()
    private var second: Int

    init() {
        second = wallClockSeconds()
        render()
    }

    deinit { lines.deallocate() }

    var serverAndDate: UnsafeRawBufferPointer { lines.bytes }

    func refresh() {
        let now = wallClockSeconds()
        if now != second {
            second = now
            render()
        }
    }

    private func render() {
        lines.count = 0
        let text = "Server: corral\r\nDate: \(HTTPDate.format(second))\r\n"
        Array(text.utf8).withUnsafeBytes { lines.append($0) }
    }
}
