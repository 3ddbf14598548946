@_spi(Internals) import CorralRuntime

// The async side of a connection: the exchanges its async jobs run.
//
// An async handler, or a streamed response body, runs on one of the loop's worker tasks
// (`LoopWorkers`), isolated to the loop (`LoopIsolation`): the connection borrows a worker for
// the exchange and gives it back after. A request therefore costs the wake-up of a parked task
// (its job on the loop's local queue, run before the loop next sleeps): no task is created, no
// thread crossed, nothing allocated. (A task per request, started with `Task.immediate` so that
// a handler that does not suspend finishes inside the read, was measured at 1.25x the
// instructions: creating a task costs more than resuming one.)
//
// While an exchange runs, parsing waits and reading is paused (pipelined requests stay in the
// kernel); the request body is parsed only when the handler asks for it, one chunk per ask, so a
// handler that reads slowly slows the client down through TCP instead of growing memory.

/// The request an async handler, or a streamed response body, is busy with. Trivial fields
/// only, so reading and updating it costs no reference counting (what is not trivial is in
/// `TaskState`).
struct Exchange {
    enum Body: Equatable {
        /// No body, or all of it has been handed over.
        case complete
        /// The parser is inside the body.
        case reading
        /// The body's framing failed, it stalled or it was too large (with the status that
        /// says so: 400, 408, 413): the handler's reads throw it, and the connection closes
        /// after the answer.
        case failed(status: Int)
    }

    let id: UInt64
    let method: HTTPMethod
    let minorVersion: Int
    let keepAlive: Bool
    let awaitsContinue: Bool
    let startedAt: UInt64
    var body: Body
    /// The head has gone out; the handler's stream is writing the body (`TaskState.stream`).
    var streaming = false
    /// The handler asked for body bytes that have not arrived yet.
    var wantsBody = false
    var continueSent = false
}

/// A streamed body being written.
struct StreamState {
    var chunked: Bool
    /// Bytes still due for a stream of declared length.
    var remaining: Int?
    var written = 0
    var bodyStart: Int
    var close: Bool
    var log: AccessLogLine?
}

/// The connection's async job, and what its worker waits on. The fields every async request
/// touches come first, together (two cache lines), the rarely used ones after them: at 1 000
/// connections each request's connection is cold, and every line touched is a miss.
struct TaskState {
    /// The worker running the connection's jobs (nil when it has none).
    var worker: LoopWorker?
    /// In the loop's queue of connections waiting for a worker.
    var queued = false
    /// The task parked for a body chunk (`ready`) or for room to write (`room`).
    var awaitsBody = false
    var awaitsRoom = false
    var ended = false
    var jobID: UInt64 = 0
    /// The next job: an async handler, or a stream to write, with its exchange. Moved out by
    /// the worker (`take()`).
    var handler: PendingHandler?
    var stream: (write: ResponseBody.Stream, id: UInt64)?
    /// The chunk handed out last: its storage goes back to the loop's pool if the handler let go.
    var lastChunk: InboundBytes?
    /// A chunk (or the end, or a failure) that arrived while the task was not waiting for it.
    var ready: Result<InboundBytes?, HTTPError>?
    // Rarely used.
    /// The handler's request when middleware has seen it (`PendingHandler.prepared`).
    var prepared: PreparedRequest?
    /// How the wait for room ended (a failure: the connection closed).
    var room: Result<Void, HTTPError>?
    var streamState: StreamState?
}

/// The connection handler as its tasks and request bodies carry it: Sendable because it is used
/// on the connection's loop only (checked in debug builds); a strong `let`, so the handler lives
/// as long as a task needs it and reading the reference costs no exclusivity check.
struct HandlerReference: @unchecked Sendable {
    private let handler: HTTPConnectionHandler
    /// Its loop, held here: a task may outlive the server's per-loop state (a slow handler of a
    /// server that has stopped), never the loop object.
    let loop: EventLoop

    init(_ handler: HTTPConnectionHandler) {
        self.handler = handler
        loop = handler.context.loop
    }

    /// True on the handler's loop while it runs: only then may `value` be used. (A loop that
    /// has shut down runs its jobs elsewhere, and its thread's id may be another thread's.)
    var isUsable: Bool { loop.inLoop && !loop.hasFinished }

    /// The handler; on its loop only.
    var value: HTTPConnectionHandler {
        loop.assertInLoop()
        return handler
    }
}

extension HTTPConnectionHandler {
    var reference: HandlerReference { HandlerReference(self) }

    // MARK: the worker

    /// Wakes the connection's worker for the job just queued, or queues the connection for one.
    private func submit() {
        if tasks.worker != nil {
            wakeTask()
        } else if !tasks.queued {
            tasks.queued = true
            context.workers.submit(self)
        }
    }

    /// Gives the connection's parked worker to the loop (run on its next turn).
    func wakeTask() {
        tasks.worker?.wake(on: context.loop)
    }

    /// Suspends the worker running this connection's job until `wakeTask()` (or, rarely,
    /// sooner: callers check what they wait for again); false if it woke elsewhere (the loop
    /// has shut down), when nothing of the connection may be touched.
    nonisolated(nonsending) func park() async -> Bool {
        guard let worker = tasks.worker else { return false }
        return await worker.park(context.isolation.parker, on: context.loop)
    }

    /// A worker takes the connection from the loop's queue to run its jobs.
    func take(_ worker: LoopWorker) {
        tasks.queued = false
        tasks.worker = worker
    }

    /// The worker has run the connection's jobs: the connection lets it go.
    func release(_ worker: LoopWorker) {
        if tasks.worker === worker { tasks.worker = nil }
    }

    /// The connection closed: its worker's job is cancelled if a handler is running (the
    /// worker then ends), and whatever it waits for fails.
    func endTasks() {
        tasks.ended = true
        tasks.handler = nil
        tasks.prepared = nil
        tasks.stream = nil
        if exchange != nil {
            tasks.worker?.retire()  // a handler or stream is running
            exchange!.body = .failed(status: 400)
        }
        deliverBodyResult(.failure(HTTPError(.badRequest, message: "the connection closed")))
        resumeWriter(with: .failure(HTTPError(.badRequest, message: "the connection closed")))
        exchange = nil
        tasks.ready = nil
        tasks.streamState = nil
        InboundBytes.recycle(&tasks.lastChunk, on: context.loop)
        wakeTask()  // its job ends
    }

    // MARK: handlers

    /// Starts an exchange for the async handler in `tasks.handler` (and `tasks.prepared`). (The
    /// caller stores it there: passed as an argument, the optimiser borrows it and copies it into
    /// `tasks`, more retains and releases per request.)
    func begin(_ head: HTTPRequestHead) {
        exchangeCount &+= 1
        exchange = Exchange(id: exchangeCount, method: head.method, minorVersion: head.minorVersion,
                            keepAlive: head.keepAlive, awaitsContinue: head.awaitsContinue,
                            startedAt: requestStartedAt, body: head.hasBody ? .reading : .complete)
        timer.handling(now: context.loop.now)
        tasks.jobID = exchangeCount
        submit()
    }

    /// The handler of exchange `id` answered: send the answer (after discarding what is left of
    /// the body, if the connection is to be reused), then go on with the next request.
    func handlerDidRespond(id: UInt64, _ response: Response) {
        // No test of `connection`: a closed connection has no exchange (`endTasks`), and reading
        // the unowned reference costs a retain and a release.
        guard let current = exchange, current.id == id else { return }
        var close = !current.keepAlive || context.draining
        var bodyLeft = false
        switch current.body {
        case .complete: break
        case .reading:
            bodyLeft = true
            // A client still waiting for 100 Continue may or may not send its body now.
            if current.awaitsContinue && !current.continueSent { close = true }
        case .failed(let status):
            // The body's failure is the answer (passed on, not assigned to `response`: a copy
            // of a response costs 4 retains and releases).
            endExchange(current, answering: HTTPError(.standard(status)).response, close: true, bodyLeft: false)
            return
        }
        endExchange(current, answering: response, close: close, bodyLeft: bodyLeft)
    }

    /// Ends the exchange `current` with `response`.
    private func endExchange(_ current: Exchange, answering response: Response, close: Bool, bodyLeft: Bool) {
        exchange = nil
        tasks.ready = nil
        if tasks.lastChunk != nil { InboundBytes.recycle(&tasks.lastChunk, on: context.loop) }
        let log = context.accessLog == nil ? nil : logLine(status: response.status.code)
        if bodyLeft && !close {
            // As for any request: the body is read and discarded, then the answer goes out.
            answerAfterBody(response, method: current.method, minorVersion: current.minorVersion, log: log,
                            startedAt: current.startedAt)
        } else {
            if bodyLeft { dropPartialRequest() }
            if !bodyLeft { timer.requestCompleted(now: context.loop.now) }
            respond(response, method: current.method, minorVersion: current.minorVersion, close: close, linger: true,
                    log: log, startedAt: current.startedAt)
        }
        resumeParsing()
    }

    /// Reads on: what the connection held back while the exchange ran comes first.
    private func resumeParsing() {
        guard exchange == nil, !closing, let connection else { return }
        trimStorage()
        connection.resumeReading()
        if exchange == nil && !closing { connection.flush() }
    }

    // MARK: request bodies

    /// The next chunk of exchange `id`'s body (nil at its end), asking the connection for it.
    nonisolated(nonsending) func nextBodyChunk(exchange id: UInt64) async throws(HTTPError) -> InboundBytes? {
        InboundBytes.recycle(&tasks.lastChunk, on: context.loop)
        guard exchange?.id == id else {
            throw HTTPError(.internalServerError, message: "a request body is readable only while its handler runs")
        }
        if let ready = takeReady() { return try remember(ready) }
        switch exchange!.body {
        case .complete: return nil
        case .failed(let status): throw HTTPError(.standard(status))
        case .reading: break
        }
        if exchange!.awaitsContinue && !exchange!.continueSent, let connection {
            exchange!.continueSent = true
            connection.write(ResponseBytes.continue100)
            queuedTotal += ResponseBytes.continue100.count
            connection.flush()
        }
        exchange!.wantsBody = true
        timer.awaitingBody(now: context.loop.now)
        connection?.resumeReading()  // may hand over a chunk at once (held-back input)
        while true {
            if let ready = takeReady() { return try remember(ready) }
            guard !tasks.ended, exchange?.id == id else { throw HTTPError(.badRequest, message: "the connection closed") }
            tasks.awaitsBody = true
            guard await park() else { throw HTTPError(.badRequest, message: "the connection closed") }
        }
    }

    private func takeReady() -> Result<InboundBytes?, HTTPError>? {
        tasks.ready.take()
    }

    private func remember(_ result: Result<InboundBytes?, HTTPError>) throws(HTTPError) -> InboundBytes? {
        let chunk = try result.get()
        tasks.lastChunk = chunk
        return chunk
    }

    /// Hands body bytes (copied) or the end to the exchange's handler; reading pauses until it
    /// asks again.
    func deliverBody(_ bytes: UnsafeRawBufferPointer, end: Bool) {
        guard exchange != nil else { return }
        if end { exchange!.body = .complete }
        exchange!.wantsBody = false
        timer.handling(now: context.loop.now)
        deliverBodyResult(.success(bytes.isEmpty ? nil : InboundBytes.copy(bytes, on: context.loop)))
    }

    /// The exchange's body failed (`error.status`: 400, 408, 413).
    func bodyFailed(_ error: HTTPParseError) {
        guard exchange != nil else { return }
        exchange!.body = .failed(status: error.status)
        exchange!.wantsBody = false
        timer.handling(now: context.loop.now)
        connection?.pauseReading()
        deliverBodyResult(.failure(HTTPError(.standard(error.status))))
    }

    private func deliverBodyResult(_ result: Result<InboundBytes?, HTTPError>) {
        guard exchange != nil else { return }
        tasks.ready = result
        if tasks.awaitsBody {
            tasks.awaitsBody = false
            wakeTask()
        }
    }

    // MARK: streamed response bodies

    /// Sends the head of a response whose body a handler streams, and gives the stream to the
    /// connection's worker.
    func startStream(_ response: Response, length: Int?, _ write: @escaping ResponseBody.Stream, minorVersion: Int,
                     close: Bool, log: AccessLogLine?, startedAt: UInt64) {
        guard let connection else { return }
        let chunked = length == nil && minorVersion == 1
        // Without a length, an HTTP/1.0 client learns where the body ends from the close.
        let close = close || (length == nil && minorVersion == 0)
        let framing: LoopContext.Framing = length.map { .length($0) } ?? (chunked ? .chunked : .closeDelimited)
        queuedTotal += connection.writeStaged {
            self.context.renderHead(status: response.status, headerFields: response.headerFields, framing: framing,
                               keepAlive: !close, minorVersion: minorVersion, into: &$0)
        }
        exchangeCount &+= 1
        var current = Exchange(id: exchangeCount, method: .get, minorVersion: minorVersion, keepAlive: !close,
                               awaitsContinue: false, startedAt: startedAt, body: .complete)
        current.streaming = true
        tasks.streamState = StreamState(chunked: chunked, remaining: length, bodyStart: queuedTotal, close: close, log: log)
        exchange = current
        timer.handling(now: context.loop.now)
        endpoint.stats.counted(status: response.status.code, bodyBytes: 0)
        tasks.stream = (write, exchangeCount)
        submit()
    }

    /// Queues streamed bytes (framed as a chunk when chunked).
    func writeStreamed(_ bytes: UnsafeRawBufferPointer, exchange id: UInt64) -> Result<Void, HTTPError> {
        guard let connection, exchange?.id == id, var stream = tasks.streamState else {
            return .failure(HTTPError(.badRequest, message: "the connection closed"))
        }
        if let remaining = stream.remaining {
            guard bytes.count <= remaining else {
                return .failure(HTTPError(.internalServerError, message: "the stream wrote more than its declared length"))
            }
            stream.remaining = remaining - bytes.count
        }
        if stream.chunked {
            var size: [UInt8] = []
            ASCII.appendHex(UInt(bytes.count), to: &size)
            size.append(ASCII.cr)
            size.append(ASCII.lf)
            connection.write(size)
            connection.write(bytes)
            connection.write(ResponseBytes.crlf)
            queuedTotal += size.count + bytes.count + 2
        } else {
            connection.write(bytes)
            queuedTotal += bytes.count
        }
        stream.written += bytes.count
        endpoint.stats.counted(bodyBytes: bytes.count)
        tasks.streamState = stream
        return .success(())
    }

    func flushStreamed(exchange id: UInt64) -> Result<Void, HTTPError> {
        guard let connection, exchange?.id == id else { return .failure(HTTPError(.badRequest, message: "the connection closed")) }
        connection.flush()
        return .success(())
    }

    /// Returns once the connection's queue is below its high watermark (at once if it is).
    nonisolated(nonsending) func waitForRoom(exchange id: UInt64) async throws(HTTPError) {
        while let connection, exchange?.id == id, !connection.isWritable {
            connection.flush()
            guard !connection.isWritable else { break }
            tasks.awaitsRoom = true
            guard await park() else { throw HTTPError(.badRequest, message: "the connection closed") }
            try tasks.room.take()?.get()
        }
        guard connection != nil, exchange?.id == id else { throw HTTPError(.badRequest, message: "the connection closed") }
    }

    /// Wakes a task waiting for room: the queue has drained (success) or the connection closed.
    func resumeWriter(with result: Result<Void, HTTPError>) {
        guard tasks.awaitsRoom else { return }
        tasks.awaitsRoom = false
        tasks.room = result
        wakeTask()
    }

    /// The stream of exchange `id` returned (or threw): end the body, then go on.
    func streamDidEnd(id: UInt64, failed: Bool) {
        guard let connection, let current = exchange, current.id == id, let stream = tasks.streamState else { return }
        exchange = nil
        tasks.streamState = nil
        let complete = !failed && (stream.remaining ?? 0) == 0
        guard complete else {
            // The client cannot tell a cut body from a whole one otherwise.
            logSent(stream.log, bodyStart: stream.bodyStart, bodyLength: stream.written, startedAt: current.startedAt)
            connection.close(reason: .closed)
            return
        }
        if stream.chunked {
            connection.write(ResponseBytes.lastChunk)
            queuedTotal += ResponseBytes.lastChunk.count
        }
        logSent(stream.log, bodyStart: stream.bodyStart, bodyLength: stream.written, startedAt: current.startedAt)
        timer.requestCompleted(now: context.loop.now)
        if stream.close {
            finish(linger: true)
        } else {
            connection.flush()
            resumeParsing()
        }
    }
}
