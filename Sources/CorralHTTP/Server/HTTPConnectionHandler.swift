@_spi(Internals) import CorralRuntime

/// One HTTP/1.1 connection: parses requests out of what the connection read, asks the
/// endpoint's responder for each response, writes them in order into the write queue, and
/// flushes once per read batch, so pipelined requests share one sendmsg.
///
/// A request for an async handler (or a response with a streamed body) is an *exchange*: the
/// handler runs in a worker task of the loop (see `LoopWorkers.swift`) while parsing
/// waits, with reading paused so that pipelined requests stay in the kernel; the body is parsed
/// only when the handler asks for it, one chunk at a time (back-pressure down to TCP).
///
/// Memory stays bounded per connection: request bodies are streamed through the parser and
/// handed over or discarded as they arrive (only a partial head or chunk line is ever kept), and
/// parsing stops while the queued output is above the connection's high watermark (the runtime
/// hands the rest back once the client has read).
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
    unowned(unsafe) let context: LoopContext
    unowned(unsafe) let endpoint: LoopEndpoint
    @exclusivity(unchecked) private var parser: HTTPRequestParser
    @exclusivity(unchecked) var timer: ConnectionTimer
    /// The connection owns this handler; it is set to nil when the connection closes (the
    /// worker running its job, if any, may keep the handler a little longer), so the handler never
    /// uses a connection that is gone, and needs no weak reference (a side-table load per use).
    @exclusivity(unchecked) unowned(unsafe) var connection: Connection?
    /// Position in the endpoint's connection list (for O(1) removal).
    var slot = -1

    /// A response of the server's (static files, errors) or of a handler.
    enum Reply {
        case plan(ResponsePlan)
        case response(Response)
    }

    /// A request whose body is still arriving, with the response it will get at the body's end.
    private struct Deferred {
        var reply: Reply
        var method: HTTPMethod
        var minorVersion: Int
        var close: Bool
        var log: AccessLogLine?
        var startedAt: UInt64
    }

    /// The method of the request whose body is being read (for an error in the body).
    @exclusivity(unchecked) private var bodyMethod: HTTPMethod = .get
    /// The final response is queued: no more requests are parsed.
    @exclusivity(unchecked) var closing = false
    /// When the current request's first byte was read (loop nanoseconds), for the access log.
    @exclusivity(unchecked) var requestStartedAt: UInt64 = 0
    /// Bytes of the head being answered (its request line, or the empty lines before it, to its
    /// blank line): what a `Request` copies; and the bytes read after it.
    @exclusivity(unchecked) private var headLength = 0
    @exclusivity(unchecked) private var leftover = 0

    // Access log: lines whose responses are still being sent, and where in the output stream
    // each response ends.
    @exclusivity(unchecked) private var pendingLines: [(line: AccessLogLine, bodyStart: Int, bodyLength: Int, end: Int, startedAt: UInt64)] = []
    /// Bytes ever queued on the connection (to tell which responses the kernel has taken).
    @exclusivity(unchecked) var queuedTotal = 0

    // Exchanges (see HTTPConnectionHandler+Tasks.swift).
    /// The request an async handler or a streamed response body is busy with.
    @exclusivity(unchecked) var exchange: Exchange?
    @exclusivity(unchecked) var exchangeCount: UInt64 = 0
    /// The head storage of the last request, reused when no `Request` refers to it any more.
    @exclusivity(unchecked) private var storage: RequestHeadStorage?
    /// The task's state: its job queue and continuations.
    @exclusivity(unchecked) var tasks = TaskState()

    // Rarely used (a request with a body answered before its end; the access log's client),
    // after the fields every request touches, which they would otherwise spread over more cache
    // lines (callgrind --cache-sim at 1 000 connections).
    @exclusivity(unchecked) private var deferred: Deferred?
    private var client: [UInt8] = []

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
        let queuedBefore = queuedTotal
        var offset = 0
        parsing: while offset < buffer.count && !closing {
            if let exchange, !(exchange.wantsBody && parser.isInBody) {
                // The exchange owns the connection: the rest waits (in the kernel) until its
                // handler asks for body bytes or has answered.
                connection.pauseReading()
                break parsing
            }
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
                headLength = consumed
                timer.headCompleted(now: now, hasBody: head.hasBody)
                leftover = buffer.count - offset
                start(head, in: rest)
            case .body(let range, let consumed):
                offset += consumed
                timer.bodyProgressed(now: now)
                if exchange != nil && !range.isEmpty { deliverBody(rest.slice(range), end: false) }
            case .end(let range, let consumed):
                offset += consumed
                if exchange != nil {
                    timer.handling(now: now)
                    deliverBody(rest.slice(range), end: true)
                    continue parsing
                }
                timer.requestCompleted(now: now)
                if let pending = deferred {
                    deferred = nil
                    let close = pending.close || context.draining
                    let linger = offset < buffer.count || context.draining
                    switch pending.reply {
                    case .plan(let plan):
                        respond(plan, method: pending.method, minorVersion: pending.minorVersion, close: close,
                                linger: linger, log: pending.log, startedAt: pending.startedAt)
                    case .response(let response):
                        respond(response, method: pending.method, minorVersion: pending.minorVersion, close: close,
                                linger: linger, log: pending.log, startedAt: pending.startedAt)
                    }
                }
            case .error(let error):
                parser.reset()
                if exchange != nil {
                    // The body its handler reads cannot be delimited: the handler learns it, and
                    // its answer is this error's, then the connection closes.
                    bodyFailed(error)
                    offset = buffer.count
                    break parsing
                }
                // The request cannot be delimited: answer, then stop reading requests.
                let method = error.method ?? (parser.isInBody || deferred != nil ? bodyMethod : .get)
                deferred = nil
                let log = context.accessLog.map {
                    AccessLogLine(format: $0.format, client: client, time: $0.time.bytes, request: nil, status: error.status)
                }
                send(.error(.standard(error.status)), method: method, minorVersion: 1, keepAlive: false, log: log,
                     startedAt: requestStartedAt)
                finish(linger: true)
            }
        }
        if closing {
            // Pipelined requests after the last answered one are dropped (the lingering close
            // reads and discards whatever else comes).
            offset = buffer.count
        } else if queuedTotal != queuedBefore {
            // Nothing queued (a partial head, or a request handed to a worker, which flushes its
            // answer itself): what was queued before went out with its own flush or waits for
            // room, so a flush here would find nothing to send.
            connection.flush()
        }
        completeLogLines()
        return offset
    }

    func connectionDidDrainOutput(_ connection: Connection) {
        completeLogLines()
    }

    func connectionWritabilityDidChange(_ connection: Connection) {
        if connection.isWritable { resumeWriter(with: .success(())) }
    }

    func connectionDidClose(_ connection: Connection, reason: CloseReason) {
        completeLogLines(closed: true)
        endpoint.remove(self)
        endpoint.stats.closed()
        self.connection = nil
        endTasks()
    }

    // MARK: requests

    /// Answers a request now, or (when a body follows that the client is already sending)
    /// once the body has been read and discarded, or hands it to a worker task.
    private func start(_ head: HTTPRequestHead, in buffer: UnsafeRawBufferPointer) {
        bodyMethod = head.method
        // nil: a handler has the request (`answer`, `begin`).
        guard let plan = endpoint.responder.respond(to: head, in: buffer, on: self) else { return }
        let log = context.accessLog.map {
            AccessLogLine(format: $0.format, client: client, time: $0.time.bytes,
                          request: Self.logRequest(head, buffer), status: plan.code)
        }
        if head.hasBody && !head.awaitsContinue {
            deferred = Deferred(reply: .plan(plan), method: head.method, minorVersion: head.minorVersion,
                                close: !head.keepAlive || plan.close, log: log, startedAt: requestStartedAt)
            return
        }
        // A client waiting for 100 Continue before sending its body is answered at once with
        // the final status (nothing here reads that body, RFC 9110 §10.1.1): the body may or
        // may not follow, so the connection cannot be reused.
        let close = !head.keepAlive || plan.close || context.draining || head.awaitsContinue
        if close && head.awaitsContinue { parser.reset() }
        respond(plan, method: head.method, minorVersion: head.minorVersion, close: close,
                linger: leftover > 0 || head.awaitsContinue || context.draining, log: log, startedAt: requestStartedAt)
    }

    /// Answers the request being started with a synchronous handler's response: as `start`
    /// does with a plan.
    func answer(_ response: Response, to head: HTTPRequestHead, in buffer: UnsafeRawBufferPointer) {
        let log = context.accessLog.map {
            AccessLogLine(format: $0.format, client: client, time: $0.time.bytes,
                          request: Self.logRequest(head, buffer), status: response.status.code)
        }
        if head.hasBody && !head.awaitsContinue {
            deferred = Deferred(reply: .response(response), method: head.method, minorVersion: head.minorVersion,
                                close: !head.keepAlive, log: log, startedAt: requestStartedAt)
            return
        }
        let close = !head.keepAlive || context.draining || head.awaitsContinue
        if close && head.awaitsContinue { parser.reset() }
        respond(response, method: head.method, minorVersion: head.minorVersion, close: close,
                linger: leftover > 0 || head.awaitsContinue || context.draining, log: log, startedAt: requestStartedAt)
    }

    /// Answers `response` once the body of the current request has been read and discarded.
    func answerAfterBody(_ response: Response, method: HTTPMethod, minorVersion: Int, log: AccessLogLine?,
                         startedAt: UInt64) {
        deferred = Deferred(reply: .response(response), method: method, minorVersion: minorVersion,
                            close: false, log: log, startedAt: startedAt)
        timer.headCompleted(now: context.loop.now, hasBody: true)
    }

    /// Forgets the partial request (its body will not be read: the connection closes).
    func dropPartialRequest() { parser.reset() }

    /// A `Request` for the head being answered: the head copied into storage (the last
    /// request's, when nothing refers to it any more), with the route's captures.
    func makeRequest(_ head: HTTPRequestHead, in buffer: UnsafeRawBufferPointer, path: NormalisedPath,
                     captures: [Range<Int>], remainder: Range<Int>?, route: RouteInfo?, async: Bool) -> Request {
        let storage = fillStorage(head, in: buffer, path: path, captures: captures, remainder: remainder, route: route)
        let body: RequestBody
        if !head.hasBody {
            body = RequestBody(source: .empty)
        } else if async {
            body = RequestBody(source: .connection(reference, id: exchangeCount &+ 1))
        } else {
            body = RequestBody(source: .discarded)
        }
        return Request(method: head.method.httpTypesMethod { RouterResponder.methodToken(head, buffer) },
                       storage: storage, body: body)
    }

    /// Copies the head being answered into the head storage (the last request's, when nothing
    /// refers to it any more), with the route's captures; `makeRequest` and `exchangeRequest`
    /// make a `Request` of it.
    @discardableResult
    func fillStorage(_ head: HTTPRequestHead, in buffer: UnsafeRawBufferPointer, path: NormalisedPath,
                     captures: [Range<Int>], remainder: Range<Int>?, route: RouteInfo?) -> RequestHeadStorage {
        if storage == nil || !isKnownUniquelyReferenced(&storage) { storage = RequestHeadStorage() }
        let storage = self.storage!
        storage.fill(head: head, headBytes: buffer.slice(0..<headLength), path: path, captures: captures,
                     remainder: remainder, route: route)
        return storage
    }

    /// The `Request` of exchange `id`, made by its worker from what `fillStorage` kept (the
    /// parse buffer is gone by then): as `makeRequest` would have made it when the head was parsed.
    func exchangeRequest(id: UInt64) -> Request {
        let storage = self.storage!
        // The head's fields are read in place (a copy of the head is 13 words).
        let body = RequestBody(source: storage.head.hasBody ? .connection(reference, id: id) : .empty)
        return Request(method: storage.head.method.httpTypesMethod { RouterResponder.methodToken(storage.head, storage.raw) },
                       storage: storage, body: body)
    }

    /// Sends a response, then ends the connection if it must close.
    func respond(_ plan: ResponsePlan, method: HTTPMethod, minorVersion: Int, close: Bool, linger: Bool,
                 log: AccessLogLine?, startedAt: UInt64) {
        send(plan, method: method, minorVersion: minorVersion, keepAlive: !close, log: log, startedAt: startedAt)
        if close { finish(linger: linger) }
    }

    /// Sends a handler's response, then ends the connection if it must close. A streamed body
    /// is written by a worker task; what follows waits for it.
    func respond(_ response: Response, method: HTTPMethod, minorVersion: Int, close: Bool, linger: Bool,
                 log: AccessLogLine?, startedAt: UInt64) {
        if case .stream(let stream) = response.body.content, method != .head, !response.status.forbidsBody {
            startStream(response, length: stream.length, stream.write, minorVersion: minorVersion, close: close, log: log,
                        startedAt: startedAt)
            return
        }
        send(response, method: method, minorVersion: minorVersion, keepAlive: !close, log: log, startedAt: startedAt)
        if close { finish(linger: linger) }
    }

    /// Queues a response: status line, Server, Date, the plan's fields, Connection, the blank
    /// line, then the body, except for HEAD (RFC 9110 §9.3.2: no content, whatever the status)
    /// and for statuses without content.
    func send(_ plan: ResponsePlan, method: HTTPMethod, minorVersion: Int, keepAlive: Bool,
              log: AccessLogLine?, startedAt: UInt64) {
        guard let connection else { return }
        let sendsBody = method != .head && !HTTPResponse.Status.forbidsBody(plan.code)
        // The head is rendered straight into the connection's outbound staging, and a body that
        // is copied anyway right after it: one staged run, no scratch copy, one queue append.
        var headLength = 0
        var bodyStaged = false
        connection.writeStaged { out in
            let start = out.count
            self.context.renderHead(code: plan.code, fields: plan.fields, keepAlive: keepAlive,
                                    minorVersion: minorVersion, into: &out)
            headLength = out.count - start
            if sendsBody { bodyStaged = Self.appendCopied(plan.body, to: &out) }
        }
        queuedTotal += headLength
        let bodyStart = queuedTotal
        var bodyLength = 0
        if sendsBody {
            bodyLength = plan.body.count
            if !bodyStaged { write(plan.body, on: connection) }
            queuedTotal += bodyLength
        }
        endpoint.stats.counted(status: plan.code, bodyBytes: bodyLength)
        if let log {
            logWhenSent(log, bodyStart: bodyStart, bodyLength: bodyLength, startedAt: startedAt, on: connection)
        }
    }

    /// `send` for a handler's response: its fields rendered, the framing added.
    func send(_ response: Response, method: HTTPMethod, minorVersion: Int, keepAlive: Bool,
              log: AccessLogLine?, startedAt: UInt64) {
        guard let connection else { return }
        let forbidsBody = response.status.forbidsBody
        let sendsBody = method != .head && !forbidsBody
        var framing = LoopContext.Framing.none
        if !forbidsBody, let count = response.body.count { framing = .length(count) }
        // As for a plan: the head, and a body that is copied anyway, in one staged run.
        var headLength = 0
        var stagedBody: Int?
        connection.writeStaged { out in
            let start = out.count
            self.context.renderHead(status: response.status, headerFields: response.headerFields, framing: framing,
                                    keepAlive: keepAlive, minorVersion: minorVersion, into: &out)
            headLength = out.count - start
            if sendsBody { stagedBody = Self.appendCopied(response.body, to: &out) }
        }
        queuedTotal += headLength
        let bodyStart = queuedTotal
        var bodyLength = 0
        if sendsBody {
            bodyLength = stagedBody ?? write(response.body, on: connection)
            queuedTotal += bodyLength
        }
        endpoint.stats.counted(status: response.status.code, bodyBytes: bodyLength)
        if let log {
            logWhenSent(log, bodyStart: bodyStart, bodyLength: bodyLength, startedAt: startedAt, on: connection)
        }
    }

    /// Bodies up to this size are copied into the write queue (one iovec with the head);
    /// larger cached bodies are referenced, not copied, so a connection's own memory holds
    /// response heads and small bodies only.
    static let copyLimit = 2 * 1024

    /// Whether a cached body is copied into the write queue rather than queued by reference.
    @inline(__always) private static func isCopied(_ chunk: ByteChunk, _ range: Range<Int>) -> Bool {
        !(range.count > copyLimit && range.count == chunk.count)
    }

    /// Appends a plan's body to the staging after its head when it is copied anyway (bytes, a
    /// small cached chunk); false for a body queued by reference (a large chunk, a file).
    private static func appendCopied(_ body: ResponsePlan.Body, to out: inout GrowableBytes) -> Bool {
        switch body {
        case .none:
            return true
        case .bytes(let bytes):
            bytes.withUnsafeBytes { out.append($0) }
            return true
        case .chunk(let chunk, let range):
            guard isCopied(chunk, range) else { return false }
            out.append(chunk.bytes.slice(range))
            return true
        case .file:
            return false
        }
    }

    /// `appendCopied` for a handler's body: its length, or nil when it is queued by reference
    /// or streamed.
    private static func appendCopied(_ body: ResponseBody, to out: inout GrowableBytes) -> Int? {
        switch body.content {
        case .empty:
            return 0
        case .bytes(let bytes):
            bytes.withUnsafeBytes { out.append($0) }
            return bytes.count
        case .string(var string):
            return string.withUTF8 { bytes in
                out.append(UnsafeRawBufferPointer(bytes))
                return bytes.count
            }
        case .chunk(let chunk, let range):
            guard isCopied(chunk, range) else { return nil }
            out.append(chunk.bytes.slice(range))
            return range.count
        case .file, .stream:
            return nil
        }
    }

    private func write(_ body: ResponsePlan.Body, on connection: Connection) {
        switch body {
        case .none:
            break
        case .bytes(let bytes):
            connection.write(bytes)
        case .chunk(let chunk, let range):
            write(chunk, range, on: connection)
        case .file(let file, let offset, let count):
            connection.write(FileRegion(file: file, offset: offset, count: count))
        }
    }

    private func write(_ chunk: ByteChunk, _ range: Range<Int>, on connection: Connection) {
        if !Self.isCopied(chunk, range) {
            connection.write(chunk)
        } else {
            connection.write(chunk.bytes.slice(range))
        }
    }

    /// Queues a handler's body; returns its length.
    private func write(_ body: ResponseBody, on connection: Connection) -> Int {
        switch body.content {
        case .empty:
            return 0
        case .bytes(let bytes):
            connection.write(bytes)
            return bytes.count
        case .string(var string):
            return string.withUTF8 { bytes in
                connection.write(UnsafeRawBufferPointer(bytes))
                return bytes.count
            }
        case .chunk(let chunk, let range):
            write(chunk, range, on: connection)
            return range.count
        case .file(let file, let offset, let count):
            connection.write(FileRegion(file: file, offset: offset, count: count))
            return count
        case .stream:
            return 0  // HEAD, or a status without content: the stream is not run
        }
    }

    /// The connection will take no more requests: send what is queued, then close, or (when
    /// the client may still be sending) close lingering: shut down the write side and discard
    /// input until the client closes, for at most the linger time and `maxDiscardedBytes`.
    func finish(linger: Bool) {
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

    /// A log line for the request in the current head storage (exchanges, whose parse buffer
    /// is gone by the time they are answered).
    func logLine(status: Int) -> AccessLogLine? {
        guard let accessLog = context.accessLog, let storage else { return nil }
        return AccessLogLine(format: accessLog.format, client: client, time: accessLog.time.bytes,
                             request: Self.logRequest(storage.head, storage.raw), status: status)
    }

    /// Records a response sent in pieces (a stream): its line is written once the kernel has
    /// taken it.
    func logSent(_ log: AccessLogLine?, bodyStart: Int, bodyLength: Int, startedAt: UInt64) {
        guard let log, let connection else { return }
        logWhenSent(log, bodyStart: bodyStart, bodyLength: bodyLength, startedAt: startedAt, on: connection)
        completeLogLines()
    }

    /// Keeps the line of the response queued last until the kernel has taken it. uring: the end
    /// of the flush that sends it is then reported before the loop sleeps (and completes the
    /// line), not with the loop's next wake-up.
    private func logWhenSent(_ log: AccessLogLine, bodyStart: Int, bodyLength: Int, startedAt: UInt64, on connection: Connection) {
        pendingLines.append((log, bodyStart, bodyLength, queuedTotal, startedAt))
        if connection.sentBytes < queuedTotal { connection.reportDrainBeforeSleeping() }
    }

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
        AccessLogLine.Request(
            method: RouterResponder.methodToken(head, buffer), target: buffer.slice(head.target),
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
            if exchange != nil {
                // The body its handler waits for stalled: the handler learns it (408).
                bodyFailed(HTTPParseError(status: 408, reason: "body timeout"))
                return
            }
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

    /// The connection's own buffers (see `Connection.bufferedMemory`) and its request storage.
    var bufferedMemory: Int { (connection?.bufferedMemory ?? 0) + (storage?.capacity ?? 0) }

    /// Closes now (the server is shutting down).
    func abort() { connection?.close() }

    /// The server is stopping: an idle connection closes now (lingering, so a request already
    /// on its way is read and dropped rather than answered by a reset); a busy one finishes its
    /// current request with `Connection: close`.
    func drain() {
        guard let connection, !closing, timer.isIdle(pendingWriteBytes: connection.pendingWriteBytes) else { return }
        finish(linger: true)
    }

    /// After an exchange: drops head storage too large to keep for an idle connection.
    func trimStorage() {
        if storage != nil && isKnownUniquelyReferenced(&storage) { storage!.trim() }
    }
}
