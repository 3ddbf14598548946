import CorralRuntime

/// One HTTP/1.1 connection: parses requests out of what the connection read, asks the
/// endpoint's responder for each response, writes them in order into the write queue, and
/// flushes once per read batch, so pipelined requests share one sendmsg.
///
/// Memory stays bounded per connection: request bodies are streamed through the parser and
/// discarded as they arrive (only a partial head or chunk line is ever kept), and parsing stops
/// while the queued output is above the connection's high watermark (the runtime hands the
/// rest back once the client has read).
///
/// Closing is done so that a response is never destroyed by a reset: when the client may still
/// be sending (pipelined requests we will not answer, a body we did not read, a drain), the
/// write side is shut down after the response and the input is read and discarded until the
/// client closes or the linger time passes (nginx's lingering close).
final class HTTPConnectionHandler: ConnectionHandler {
    // Loop-bound state, read and written once or more per request on the loop's thread only,
    // with no access spanning a call that could reach it again: the dynamic exclusivity checks
    // (swift_beginAccess) would cost more than the rest of the handler's bookkeeping
    // (Benchmarks/callgrind.py --http). The context and endpoint outlive every connection (the
    // server stops its loops before releasing them), so no reference counting either.
    private unowned(unsafe) let context: LoopContext
    private unowned(unsafe) let endpoint: LoopEndpoint
    @exclusivity(unchecked) private var parser: HTTPRequestParser
    @exclusivity(unchecked) private var timer: ConnectionTimer
    /// The connection owns this handler and lets go of it when it closes (after telling it,
    /// which takes it off the endpoint's list), so the handler never outlives it: no weak
    /// reference (a side-table load per use) is needed.
    @exclusivity(unchecked) private unowned(unsafe) var connection: Connection?
    /// Position in the endpoint's connection list (for O(1) removal).
    var slot = -1

    /// A request whose body is still arriving, with the response it will get at the body's end.
    private struct Deferred {
        var plan: ResponsePlan
        var method: HTTPMethod
        var minorVersion: Int
        var keepAlive: Bool
        var log: AccessLogLine?
        var startedAt: UInt64
    }

    @exclusivity(unchecked) private var deferred: Deferred?
    /// The method of the request whose body is being read (for an error in the body).
    @exclusivity(unchecked) private var bodyMethod: HTTPMethod = .get
    /// The final response is queued: no more requests are parsed.
    @exclusivity(unchecked) private var closing = false
    /// When the current request's first byte was read (loop nanoseconds), for the access log.
    @exclusivity(unchecked) private var requestStartedAt: UInt64 = 0

    // Access log: lines whose responses are still being sent, and where in the output stream
    // each response ends.
    private var client: [UInt8] = []
    @exclusivity(unchecked) private var pendingLines: [(line: AccessLogLine, bodyStart: Int, bodyLength: Int, end: Int, startedAt: UInt64)] = []
    /// Bytes ever queued on the connection (to tell which responses the kernel has taken).
    @exclusivity(unchecked) private var queuedTotal = 0

    /// Most bytes per read: a client that pipelines without reading leaves at most this much
    /// input for the connection to hold (a head is at most `maxHeaderSection` anyway).
    static let maxReadSize = 16 * 1024

    /// Most input discarded by a lingering close before the connection is simply closed.
    static let maxDiscardedBytes = 1 << 20

    init(context: LoopContext, endpoint: LoopEndpoint) {
        self.context = context
        self.endpoint = endpoint
        parser = HTTPRequestParser(limits: context.configuration.parserLimits)
        timer = ConnectionTimer(now: context.loop.now)
    }

    // MARK: connection events

    func connectionDidOpen(_ connection: Connection) {
        self.connection = connection
        connection.highWatermark = context.configuration.writeHighWatermark
        connection.lowWatermark = context.configuration.writeHighWatermark / 4
        connection.maxReadSize = Self.maxReadSize
        let open = endpoint.stats.opened()
        endpoint.add(self)
        if context.accessLog != nil {
            client = Array((connection.remoteAddress.map { Self.host(of: $0) } ?? "-").utf8)
        }
        if open > endpoint.maxConnections {
            // Shed cleanly: a 503 the client can read, then close.
            endpoint.stats.shedOne()
            send(.error(.serviceUnavailable, extraFields: StaticFileResponder.retryAfterField), method: .get,
                 minorVersion: 1, keepAlive: false, log: nil, startedAt: context.loop.now)
            finish(linger: false)
        }
    }

    func connection(_ connection: Connection, didRead buffer: UnsafeRawBufferPointer) -> Int {
        let now = context.loop.now
        if closing { return buffer.count }  // input after the last response is dropped
        var offset = 0
        parsing: while offset < buffer.count && !closing {
            if !connection.isWritable {
                // Past the high watermark: send what is queued; if the client is not reading,
                // stop parsing (the runtime presents the rest again once it has read).
                connection.flush()
                guard connection.isWritable, !closing else { break parsing }
            }
            let rest = buffer.slice(offset..<buffer.count)
            switch parser.parse(rest) {
            case .needMore:
                if !parser.isInBody && timer.phase != .head {
                    timer.headStarted(now: now)
                    requestStartedAt = now
                }
                break parsing
            case .head(let head, let consumed):
                if timer.phase != .head { requestStartedAt = now }  // the whole head came in one read
                offset += consumed
                timer.headCompleted(now: now, hasBody: head.hasBody)
                start(head, in: rest, leftover: buffer.count - offset)
            case .body(_, let consumed):
                offset += consumed
                timer.bodyProgressed(now: now)
            case .end(_, let consumed):
                offset += consumed
                timer.requestCompleted(now: now)
                if let pending = deferred {
                    deferred = nil
                    let close = !pending.keepAlive || pending.plan.close || context.draining
                    send(pending.plan, method: pending.method, minorVersion: pending.minorVersion,
                         keepAlive: !close, log: pending.log, startedAt: pending.startedAt)
                    if close { finish(linger: offset < buffer.count || context.draining) }
                }
            case .error(let error):
                // The request cannot be delimited: answer, then stop reading requests.
                let method = error.method ?? (parser.isInBody || deferred != nil ? bodyMethod : .get)
                deferred = nil
                parser.reset()
                let log = context.accessLog.map {
                    AccessLogLine(format: $0.format, client: client, time: $0.time.bytes, request: nil, status: error.status)
                }
                send(.error(HTTPStatus(error.status)), method: method, minorVersion: 1, keepAlive: false, log: log,
                     startedAt: requestStartedAt)
                finish(linger: true)
            }
        }
        if closing {
            // Pipelined requests after the last answered one are dropped (the lingering close
            // reads and discards whatever else comes).
            offset = buffer.count
        } else {
            connection.flush()
        }
        completeLogLines()
        return offset
    }

    func connectionDidDrainOutput(_ connection: Connection) {
        completeLogLines()
    }

    func connectionDidClose(_ connection: Connection, reason: CloseReason) {
        completeLogLines(closed: true)
        endpoint.remove(self)
        endpoint.stats.closed()
    }

    // MARK: requests

    /// Answers a request now, or (when a body follows that the client is already sending)
    /// once the body has been read and discarded.
    private func start(_ head: HTTPRequestHead, in buffer: UnsafeRawBufferPointer, leftover: Int) {
        let plan = endpoint.responder.respond(to: head, in: buffer)
        let log = context.accessLog.map {
            AccessLogLine(format: $0.format, client: client, time: $0.time.bytes,
                          request: Self.logRequest(head, buffer), status: plan.status.code)
        }
        bodyMethod = head.method
        if head.hasBody && !head.awaitsContinue {
            deferred = Deferred(plan: plan, method: head.method, minorVersion: head.minorVersion,
                                keepAlive: head.keepAlive, log: log, startedAt: requestStartedAt)
            return
        }
        // A client waiting for 100 Continue before sending its body is answered at once with
        // the final status (no responder here reads bodies, RFC 9110 §10.1.1): the body may or
        // may not follow, so the connection cannot be reused.
        let close = !head.keepAlive || plan.close || context.draining || head.awaitsContinue
        send(plan, method: head.method, minorVersion: head.minorVersion, keepAlive: !close, log: log,
             startedAt: requestStartedAt)
        if close {
            if head.awaitsContinue { parser.reset() }
            finish(linger: leftover > 0 || head.awaitsContinue || context.draining)
        }
    }

    /// Queues a response: status line, Server, Date, the plan's fields, Connection, the blank
    /// line, then the body, except for HEAD (RFC 9110 §9.3.2: no content, whatever the status)
    /// and for statuses without content.
    private func send(_ plan: ResponsePlan, method: HTTPMethod, minorVersion: Int, keepAlive: Bool,
                      log: AccessLogLine?, startedAt: UInt64) {
        guard let connection else { return }
        // The head is assembled in the loop's scratch buffer and queued with one write.
        let head = context.renderHead(status: plan.status, fields: plan.fields, keepAlive: keepAlive,
                                      minorVersion: minorVersion)
        let headBytes = head.count
        connection.write(head)
        queuedTotal += headBytes
        let bodyStart = queuedTotal
        var bodyLength = 0
        if method != .head && !plan.status.forbidsBody {
            bodyLength = plan.body.count
            write(plan.body, on: connection)
            queuedTotal += bodyLength
        }
        endpoint.stats.counted(status: plan.status.code, bodyBytes: bodyLength)
        if let log {
            pendingLines.append((log, bodyStart, bodyLength, queuedTotal, startedAt))
        }
    }

    /// Bodies up to this size are copied into the write queue (one iovec with the head);
    /// larger cached bodies are referenced, not copied, so a connection's own memory holds
    /// response heads and small bodies only.
    static let copyLimit = 2 * 1024

    private func write(_ body: ResponsePlan.Body, on connection: Connection) {
        switch body {
        case .none:
            break
        case .bytes(let bytes):
            connection.write(bytes)
        case .chunk(let chunk, let range):
            if range.count > Self.copyLimit && range.count == chunk.count {
                connection.write(chunk)
            } else {
                connection.write(chunk.bytes.slice(range))
            }
        case .file(let file, let offset, let count):
            connection.write(FileRegion(file: file, offset: offset, count: count))
        }
    }

    /// The connection will take no more requests: send what is queued, then close, or (when
    /// the client may still be sending) close lingering: shut down the write side and discard
    /// input until the client closes, for at most the linger time and `maxDiscardedBytes`.
    private func finish(linger: Bool) {
        guard let connection, !closing else { return }
        closing = true
        timer.closingStarted(now: context.loop.now)
        if linger {
            connection.closeAfterFlush(
                lingering: Linger(timeoutNanoseconds: context.timerLimits.linger, maxDiscardedBytes: Self.maxDiscardedBytes))
        } else {
            connection.closeAfterFlush()
        }
    }

    // MARK: the access log

    /// Writes the lines of responses the kernel has taken in full (or, once the connection has
    /// closed, of everything: with the body bytes that did go out).
    private func completeLogLines(closed: Bool = false) {
        guard !pendingLines.isEmpty, let log = context.accessLog, let connection else { return }
        let sent = connection.sentBytes
        let now = context.loop.now
        var done = 0
        for entry in pendingLines {
            guard closed || sent >= entry.end else { break }
            let bytes = min(max(sent - entry.bodyStart, 0), entry.bodyLength)
            log.append(entry.line, bytes: bytes, nanoseconds: now &- entry.startedAt)
            done += 1
        }
        pendingLines.removeFirst(done)
    }

    /// The request's fields the log shows. The method's token is read back from the request
    /// line (it ends one space before the target).
    private static func logRequest(_ head: HTTPRequestHead, _ buffer: UnsafeRawBufferPointer) -> AccessLogLine.Request {
        let methodEnd = head.target.lowerBound - 1
        var methodStart = methodEnd
        while methodStart > 0, ASCII.isToken(buffer[methodStart - 1]) { methodStart -= 1 }
        return AccessLogLine.Request(
            method: buffer.slice(methodStart..<methodEnd), target: buffer.slice(head.target),
            minorVersion: head.minorVersion, referer: head.referer.map(buffer.slice),
            userAgent: head.userAgent.map(buffer.slice))
    }

    private static func host(of address: SocketAddress) -> String {
        switch address {
        case .ipv4(let host, _), .ipv6(let host, _): host
        case .unix: "unix"
        }
    }

    // MARK: timeouts and draining

    /// The deadline that has passed at `now`, if any (called by the endpoint's sweep).
    func checkTimeout(now: UInt64) -> ConnectionTimer.Expiry? {
        guard let connection else { return nil }
        return timer.expiry(now: now, pendingWriteBytes: connection.pendingWriteBytes, limits: context.timerLimits)
    }

    func timeOut(_ expiry: ConnectionTimer.Expiry) {
        guard let connection else { return }
        switch expiry {
        case .header, .body:
            guard !closing, connection.pendingWriteBytes == 0 else {
                connection.close(reason: .timedOut)
                return
            }
            deferred = nil
            send(.error(.requestTimeout), method: bodyMethod, minorVersion: 1, keepAlive: false, log: nil,
                 startedAt: requestStartedAt)
            finish(linger: true)
        case .idle:
            connection.close()
        case .write:
            connection.close(reason: .timedOut)
        }
    }

    /// The connection's own buffers (see `Connection.bufferedMemory`).
    var bufferedMemory: Int { connection?.bufferedMemory ?? 0 }

    /// Closes now (the server is shutting down).
    func abort() { connection?.close() }

    /// The server is stopping: an idle connection closes now (lingering, so a request already
    /// on its way is read and dropped rather than answered by a reset); a busy one finishes its
    /// current request with `Connection: close`.
    func drain() {
        guard let connection, !closing, timer.isIdle(pendingWriteBytes: connection.pendingWriteBytes) else { return }
        finish(linger: true)
    }
}
