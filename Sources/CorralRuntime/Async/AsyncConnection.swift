/// A connection for async code: `for try await chunk in connection.inbound`, `try await
/// connection.write(…)`, `try await connection.flush()`.
///
/// Built on the callback `Connection`, on the same loop. Code that runs in a task preferring the
/// connection's loop as its executor — which is how `Listener.run` and `AsyncConnection.connect`
/// run their bodies — executes on the loop's thread: a read resumes the waiting task on the
/// loop's next turn, with no thread hop and no eventfd write, and writes go straight into the
/// connection's queue. Called from anywhere else, each method first hops to the loop (correct,
/// but a thread hop each time).
///
/// Back-pressure both ways: reading pauses while more than `inboundHighWatermark` bytes wait for
/// the consumer (the kernel's buffer then fills and TCP slows the peer), and `write`/`flush`
/// suspend while more than the connection's `highWatermark` bytes wait for the kernel. Errors
/// are `CloseReason`s: once the connection is closed, every call says why.
public final class AsyncConnection: Sendable {
    /// The loop the connection lives on.
    public let loop: EventLoop
    let state: LoopBound<AsyncConnectionState>

    init(state: AsyncConnectionState) {
        self.loop = state.loop
        self.state = LoopBound(state, loop: state.loop)
    }

    /// The bytes the peer sends, chunk by chunk, as they arrive; ends (nil) at the peer's end
    /// of file or an orderly close, throws the `CloseReason` otherwise. One consumer at a time.
    public var inbound: Inbound { Inbound(connection: self) }

    /// Queues a copy of `bytes`; suspends (after flushing) while more than the high watermark is queued.
    public func write(_ bytes: InboundBytes) async throws(CloseReason) {
        guard loop.inLoop else { return try await onLoop { () throws(CloseReason) in try await self.write(bytes) } }
        try state.value.checkWritable()
        bytes.withUnsafeBytes { state.value.connection?.write($0) }
        try await state.value.waitForRoom()
    }

    /// Queues a copy of `bytes`; suspends (after flushing) while more than the high watermark is queued.
    public func write(_ bytes: [UInt8]) async throws(CloseReason) {
        guard loop.inLoop else { return try await onLoop { () throws(CloseReason) in try await self.write(bytes) } }
        try state.value.checkWritable()
        state.value.connection?.write(bytes)
        try await state.value.waitForRoom()
    }

    /// Queues the UTF-8 bytes of `text`.
    public func write(_ text: String) async throws(CloseReason) {
        try await write(Array(text.utf8))
    }

    /// Queues a shared chunk without copying it.
    public func write(_ chunk: ByteChunk) async throws(CloseReason) {
        guard loop.inLoop else { return try await onLoop { () throws(CloseReason) in try await self.write(chunk) } }
        try state.value.checkWritable()
        state.value.connection?.write(chunk)
        try await state.value.waitForRoom()
    }

    /// Queues a file region, sent with sendfile(2).
    public func write(_ region: FileRegion) async throws(CloseReason) {
        guard loop.inLoop else { return try await onLoop { () throws(CloseReason) in try await self.write(region) } }
        try state.value.checkWritable()
        state.value.connection?.write(region)
        try await state.value.waitForRoom()
    }

    /// Sends what is queued (one gathered sendmsg); suspends while more than the high watermark
    /// is still queued afterwards.
    public func flush() async throws(CloseReason) {
        guard loop.inLoop else { return try await onLoop { () throws(CloseReason) in try await self.flush() } }
        try state.value.checkWritable()
        state.value.connection?.flush()
        try await state.value.waitForRoom()
    }

    /// Sends what is queued, then closes (the peer reads end of file). With `linger`, closes
    /// lingering (see `Connection.closeAfterFlush(lingering:)`).
    public func close(lingering linger: Linger? = nil) async {
        guard loop.inLoop else { return await withTaskExecutorPreference(loop) { await self.close(lingering: linger) } }
        state.value.closeAfterFlush(lingering: linger)
    }

    /// Shuts down the write side once what is queued has been sent; reading goes on.
    public func shutdownWrite() async throws(CloseReason) {
        guard loop.inLoop else { return try await onLoop { () throws(CloseReason) in try await self.shutdownWrite() } }
        try state.value.checkWritable()
        state.value.connection?.shutdownWriteAfterFlush()
    }

    /// Closes now from any thread (e.g. a cancellation handler), with `reason`.
    func closeSoon(reason: CloseReason) {
        let state = self.state
        loop.execute { state.value.connection?.close(reason: reason) }
    }

    /// Closes once what is queued is sent, from any thread.
    func closeAfterFlushSoon() {
        let state = self.state
        loop.execute { state.value.closeAfterFlush(lingering: nil) }
    }

    private func onLoop<T>(_ body: () async throws(CloseReason) -> T) async throws(CloseReason) -> T {
        try await withTaskExecutorPreference(loop, operation: body)
    }

    /// Runs `body` with this connection in the current task, then closes it: cancelling the task
    /// closes the connection (`CloseReason.cancelled`), and whatever ends `body` ends it.
    func serve<T>(_ body: (AsyncConnection) async throws -> T) async throws -> T {
        defer { closeAfterFlushSoon() }
        return try await withTaskCancellationHandler {
            try await body(self)
        } onCancel: {
            closeSoon(reason: .cancelled)
        }
    }
}

extension AsyncConnection {
    /// The chunks the peer sends, as an `AsyncSequence` with typed failure.
    public struct Inbound: AsyncSequence, Sendable {
        public typealias Element = InboundBytes
        public typealias Failure = CloseReason

        let connection: AsyncConnection

        public func makeAsyncIterator() -> Iterator { Iterator(connection: connection) }

        public struct Iterator: AsyncIteratorProtocol {
            public typealias Element = InboundBytes
            public typealias Failure = CloseReason

            let connection: AsyncConnection

            public mutating func next() async throws(CloseReason) -> InboundBytes? {
                try await connection.nextChunk()
            }

            public mutating func next(isolation actor: isolated (any Actor)?) async throws(CloseReason) -> InboundBytes? {
                try await connection.nextChunk()
            }
        }
    }

    func nextChunk() async throws(CloseReason) -> InboundBytes? {
        guard loop.inLoop else { return try await onLoop { () throws(CloseReason) in try await self.nextChunk() } }
        let state = self.state.value
        switch try state.takeChunk() {
        case .chunk(let chunk): return chunk
        case .end: return nil
        case .wait: return try await withUnsafeContinuation { state.waitForChunk($0) }.get()
        }
    }
}
