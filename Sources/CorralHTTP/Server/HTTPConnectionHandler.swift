import CorralRuntime
import Glibc

/// One HTTP/1.1 connection: parses requests out of what the connection read, answers each in
/// order into the write queue, and flushes once per read batch, so pipelined requests share
/// one sendmsg. Stops taking requests when the write queue passes its high watermark; the
/// runtime hands the rest back once the client has read.
final class HTTPConnectionHandler: ConnectionHandler {
    private unowned let context: LoopContext
    private var parser: RequestParser
    /// Position in the loop's connection list (for O(1) removal).
    var slot = -1

    /// Each phase starts at the loop's monotonic time in nanoseconds (read once per loop turn),
    /// so a timeout is never early; the once-a-second sweep makes it at most a second late.
    private enum Phase {
        /// Nothing received since the connection opened or the last response: waiting.
        case idle(since: UInt64, first: Bool)
        /// Part of a request head has arrived.
        case head(since: UInt64)
    }

    private var phase: Phase
    private var lastPending = 0
    private var stalledSince: UInt64 = 0
    private weak var connection: Connection?

    init(context: LoopContext) {
        self.context = context
        var limits = HTTPParserLimits()
        limits.maxBody = 64 * 1024
        parser = RequestParser(limits: limits)
        phase = .idle(since: context.loop.now, first: true)
    }

    // MARK: connection events

    func connectionDidOpen(_ connection: Connection) {
        self.connection = connection
        let open = context.stats.opened()
        context.add(self)
        if open > context.configuration.maxConnections {
            // Shed cleanly: a 503 the client can read, then close.
            context.stats.shedOne()
            writeError(503, on: connection, minorVersion: 1, close: true)
            connection.closeAfterFlush()
        }
    }

    func connection(_ connection: Connection, didRead buffer: UnsafeRawBufferPointer) -> Int {
        var offset = 0
        var close = false
        while offset < buffer.count && connection.isWritable && !close {
            let rest = UnsafeRawBufferPointer(rebasing: buffer[offset...])
            switch parser.parse(rest) {
            case .needMore:
                if case .idle = phase { phase = .head(since: context.loop.now) }
                connection.flush()
                return offset
            case .error(let error):
                writeError(error.status, on: connection, minorVersion: 1, close: true)
                offset = buffer.count
                close = true
            case .request(let head, let consumed):
                close = respond(to: head, in: rest, on: connection)
                offset += consumed
                phase = .idle(since: context.loop.now, first: false)  // the next head's clock starts at its first byte
            }
        }
        phase = offset == buffer.count || close ? .idle(since: context.loop.now, first: false) : .head(since: context.loop.now)
        if close {
            connection.closeAfterFlush()
        } else {
            connection.flush()
        }
        return close ? buffer.count : offset
    }

    func connectionDidClose(_ connection: Connection, reason: CloseReason) {
        context.remove(self)
        context.stats.closed()
    }

    // MARK: responses

    /// Answers one request; returns true when the connection must close afterwards.
    private func respond(to head: RequestHead, in buffer: UnsafeRawBufferPointer, on connection: Connection) -> Bool {
        let close = !head.keepAlive || context.draining
        switch head.method {
        case .get, .head: break
        case .other:
            writeError(501, on: connection, minorVersion: head.minorVersion, close: close)
            return close
        default:
            writeError(405, on: connection, minorVersion: head.minorVersion, close: close,
                       extra: "Allow: GET, HEAD\r\n")
            return close
        }
        let path: String
        switch RequestPath.resolve(UnsafeRawBufferPointer(rebasing: buffer[head.target])) {
        case .success(let resolved): path = resolved
        case .failure(.badRequest):
            writeError(400, on: connection, minorVersion: head.minorVersion, close: close)
            return close
        case .failure(.notFound):
            writeError(404, on: connection, minorVersion: head.minorVersion, close: close)
            return close
        }
        guard case .found(let entry) = context.files.lookup(path, now: context.loop.now / 1_000_000_000) else {
            writeError(404, on: connection, minorVersion: head.minorVersion, close: close)
            return close
        }
        let isHead = head.method == .head
        if notModified(head, buffer, entry) {
            writeHead(304, fields: entry.validators, on: connection, head: head, close: close)
            log(head, buffer, 304, 0)
            return close
        }
        var first = 0
        var count = entry.status.size
        var status = 200
        if let rangeField = head.range, head.method == .get,
            head.ifRange.map({ Conditional.ifRangeHolds(UnsafeRawBufferPointer(rebasing: buffer[$0]), etag: entry.etag,
                                                        lastModified: entry.status.modifiedSeconds) }) ?? true
        {
            switch Conditional.byteRange(UnsafeRawBufferPointer(rebasing: buffer[rangeField]), size: entry.status.size) {
            case .full: break
            case .unsatisfiable:
                writeError(416, on: connection, minorVersion: head.minorVersion, close: close,
                           extra: "Content-Range: bytes */\(entry.status.size)\r\n")
                return close
            case .partial(let a, let b):
                status = 206
                first = a
                count = b - a + 1
            }
        }
        if status == 200 {
            writeHead(200, fields: entry.fields200, on: connection, head: head, close: close)
        } else {
            let fields = "Content-Type: \(entry.contentType)\r\nContent-Length: \(count)\r\n"
                + "Content-Range: bytes \(first)-\(first + count - 1)/\(entry.status.size)\r\n"
            writeHead(206, fields: Array(fields.utf8) + entry.validators, on: connection, head: head, close: close)
        }
        if !isHead && count > 0 {
            switch entry.body {
            case .memory(let chunk):
                if first == 0 && count == chunk.count && count > 16 * 1024 {
                    connection.write(chunk)  // shared, not copied
                } else {
                    connection.write(UnsafeRawBufferPointer(rebasing: chunk.bytes[first..<(first + count)]))
                }
            case .file(let file):
                connection.write(FileRegion(file: file, offset: first, count: count))
            }
        }
        context.stats.counted(status: status, bodyBytes: isHead ? 0 : count)
        log(head, buffer, status, isHead ? 0 : count)
        return close
    }

    /// If-None-Match takes precedence over If-Modified-Since (RFC 9110 §13.2.2).
    private func notModified(_ head: RequestHead, _ buffer: UnsafeRawBufferPointer, _ entry: FileEntry) -> Bool {
        if let field = head.ifNoneMatch {
            return Conditional.noneMatchHits(UnsafeRawBufferPointer(rebasing: buffer[field]), etag: entry.etag)
        }
        if let field = head.ifModifiedSince,
            let since = HTTPDate.parse(UnsafeRawBufferPointer(rebasing: buffer[field]))
        {
            return entry.status.modifiedSeconds <= since
        }
        return false
    }

    private func writeHead(_ status: Int, fields: [UInt8], on connection: Connection, head: RequestHead, close: Bool) {
        connection.write(Responses.statusLine(status))
        connection.write(Responses.serverAndDate)
        connection.write(context.date.bytes)
        connection.write(Responses.crlf)
        connection.write(fields)
        if close {
            connection.write(Responses.connectionClose)
        } else if head.minorVersion == 0 {
            connection.write(Responses.connectionKeepAlive)
        }
        connection.write(Responses.crlf)
        if status == 304 { context.stats.counted(status: 304, bodyBytes: 0) }
    }

    private func writeError(_ status: Int, on connection: Connection, minorVersion: Int, close: Bool, extra: String = "") {
        let body = "\(status) \(Responses.reason(status))\n"
        var text = "HTTP/1.1 \(status) \(Responses.reason(status))\r\nServer: corral\r\nDate: "
        text += String(decoding: context.date.bytes, as: UTF8.self)
        text += "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\n" + extra
        if close { text += "Connection: close\r\n" } else if minorVersion == 0 { text += "Connection: keep-alive\r\n" }
        text += "\r\n" + body
        connection.write(Array(text.utf8))
        context.stats.counted(status: status, bodyBytes: body.utf8.count)
    }

    private func log(_ head: RequestHead, _ buffer: UnsafeRawBufferPointer, _ status: Int, _ bytes: Int) {
        guard context.configuration.accessLog else { return }
        let target = String(decoding: UnsafeRawBufferPointer(rebasing: buffer[head.target]), as: UTF8.self)
        let line = "\(String(decoding: context.date.bytes, as: UTF8.self)) \(head.method) \(target) \(status) \(bytes)\n"
        _ = line.withCString { write(1, $0, strlen($0)) }
    }

    // MARK: timeouts and draining

    /// Idle between two requests, with nothing left to send: safe to close when draining.
    /// A connection that has not sent its first request yet is not idle in this sense: its
    /// request is probably in flight (a drain must not turn an accepted connection into a reset).
    var isIdle: Bool {
        if case .idle(_, let first) = phase, !first, (connection?.pendingWriteBytes ?? 0) == 0 { return true }
        return false
    }

    /// Whether a timeout has passed at `now` (monotonic nanoseconds).
    func hasTimedOut(now: UInt64, configuration: HTTPServerConfiguration) -> Bool {
        guard let connection else { return false }
        let pending = connection.pendingWriteBytes
        if pending > 0 {
            // A response the client is not reading: time out only if nothing moved.
            if pending != lastPending { lastPending = pending; stalledSince = now }
            return now &- stalledSince >= Self.nanoseconds(configuration.writeTimeout)
        }
        lastPending = 0
        switch phase {
        case .idle(let since, let first):
            // A connection that never sent a request gets the header timeout (slowloris that
            // sends nothing); between requests, the keep-alive timeout.
            return now &- since >= Self.nanoseconds(first ? configuration.headerTimeout : configuration.keepAliveTimeout)
        case .head(let since):
            return now &- since >= Self.nanoseconds(configuration.headerTimeout)
        }
    }

    private static func nanoseconds(_ seconds: Int) -> UInt64 { UInt64(max(seconds, 0)) &* 1_000_000_000 }

    func timeOut() {
        guard let connection else { return }
        if case .head = phase, connection.pendingWriteBytes == 0 {
            writeError(408, on: connection, minorVersion: 1, close: true)
            connection.closeAfterFlush()
        } else {
            connection.close(reason: .timedOut)
        }
    }

    func closeIdle() { connection?.close() }
}
