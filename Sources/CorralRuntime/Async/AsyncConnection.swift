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
public final class AsyncConnection: @unchecked Sendable {
    /// The loop the connection lives on.
    public let loop: EventLoop
    /// Loop-bound: every method checks `loop.inLoop` before touching it (and hops there if not).
    /// A plain `let` rather than a `LoopBound`, whose checked accessors cost a dynamic
    /// exclusivity check per access on the per-message path.
    let state: AsyncConnectionState

    init(state: AsyncConnectionState) {
        self.loop = state.loop
        self.state = state
    }

    /// The bytes the peer sends, chunk by chunk, as they arrive; ends (nil) at the peer's end
    /// of file or an orderly close, throws the `CloseReason` otherwise. One consumer at a time.
    public var inbound: Inbound { Inbound(connection: self) }

    // The per-message methods finish, on the loop and below the high watermark, with one
    // synchronous call (`state.queue`, `state.flushNow`): only waiting for room, or a hop to the
    // loop, goes through another async call. (Not @inlinable: inlined bodies would make every
    // client module load the CCorral C module, whose textual system headers then hide Glibc
    // declarations from the client's files.)

    /// Queues a copy of `bytes`; suspends (after flushing) while more than the high watermark is queued.
    public nonisolated(nonsending) func write(_ bytes: InboundBytes) async throws(CloseReason) {
        if try state.queue(bytes) { return }
        try await finishWrite { () throws(CloseReason) in try await self.write(bytes) }
    }

    /// Queues a copy of `bytes`; suspends (after flushing) while more than the high watermark is queued.
    public nonisolated(nonsending) func write(_ bytes: [UInt8]) async throws(CloseReason) {
        if try state.queue(bytes) { return }
        try await finishWrite { () throws(CloseReason) in try await self.write(bytes) }
    }

    /// Queues a copy of `bytes`; suspends (after flushing) while more than the high watermark is queued.
    public nonisolated(nonsending) func write(_ bytes: ArraySlice<UInt8>) async throws(CloseReason) {
        if try state.queue(bytes) { return }
        try await finishWrite { () throws(CloseReason) in try await self.write(bytes) }
    }

    /// Queues the UTF-8 bytes of `text`.
    public nonisolated(nonsending) func write(_ text: String) async throws(CloseReason) {
        try await write(Array(text.utf8))
    }

    /// Queues a shared chunk without copying it.
    public nonisolated(nonsending) func write(_ chunk: ByteChunk) async throws(CloseReason) {
        if try state.queue(chunk) { return }
        try await finishWrite { () throws(CloseReason) in try await self.write(chunk) }
    }

    /// Queues a file region, sent with sendfile(2).
    public nonisolated(nonsending) func write(_ region: FileRegion) async throws(CloseReason) {
        if try state.queue(region) { return }
        try await finishWrite { () throws(CloseReason) in try await self.write(region) }
    }

    /// Sends what is queued (one gathered sendmsg); suspends while more than the high watermark
    /// is still queued afterwards.
    public nonisolated(nonsending) func flush() async throws(CloseReason) {
        if try state.flushNow() { return }
        try await finishWrite { () throws(CloseReason) in try await self.flush() }
    }

    /// The slow half of `write` and `flush`: on the loop, the bytes are queued and the queue is
    /// above its high watermark, so wait for room; off the loop, nothing was done, so hop to the
    /// loop and `retry` there.
    nonisolated(nonsending) func finishWrite(
        retry: () async throws(CloseReason) -> Void
    ) async throws(CloseReason) {
        if loop.inLoop {
            try await state.waitForRoom()
        } else {
            try await onLoop(retry)
        }
    }

    /// Sends what is queued, then closes (the peer reads end of file). With `linger`, closes
    /// lingering (see `Connection.closeAfterFlush(lingering:)`).
    public nonisolated(nonsending) func close(lingering linger: Linger? = nil) async {
        guard loop.inLoop else { return await withTaskExecutorPreference(loop) { await self.close(lingering: linger) } }
        state.closeAfterFlush(lingering: linger)
    }

    /// Shuts down the write side once what is queued has been sent; reading goes on.
    public nonisolated(nonsending) func shutdownWrite() async throws(CloseReason) {
        guard loop.inLoop else { return try await onLoop { () throws(CloseReason) in try await self.shutdownWrite() } }
        try state.checkWritable()
        state.connection?.shutdownWriteAfterFlush()
    }

    /// Closes now from any thread (e.g. a cancellation handler), with `reason`.
    func closeSoon(reason: CloseReason) {
        loop.execute { [self] in state.connection?.close(reason: reason) }
    }

    /// Closes once what is queued is sent, from any thread.
    func closeAfterFlushSoon() {
        loop.execute { [self] in state.closeAfterFlush(lingering: nil) }
    }

    nonisolated(nonsending) func onLoop<T>(_ body: () async throws(CloseReason) -> T) async throws(CloseReason) -> T {
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

            public nonisolated(nonsending) mutating func next() async throws(CloseReason) -> InboundBytes? {
                try await connection.nextChunk()
            }

            /// Runs on the caller's isolation (which is what `actor` names) without the entry
            /// hop an `isolated` parameter costs.
            public nonisolated(nonsending) mutating func next(isolation actor: (any Actor)?) async throws(CloseReason) -> InboundBytes? {
                try await connection.nextChunk()
            }
        }
    }

    /// The next chunk: at once if one is buffered, else after the next read. One frame between
    /// the caller and the suspension, since every frame a resumed task returns through costs an
    /// executor check in the Swift runtime. The continuation inherits the caller's executor
    /// (`_unsafeInheritExecutor_…`, like this `nonisolated(nonsending)` function itself):
    /// `withUnsafeContinuation(isolation:)` would hop to the caller's isolation before
    /// suspending and again after resuming, two `swift_task_switch` calls per message, each a
    /// locked look-up of the task's executor preference. Resumed only on the loop's thread, by
    /// the read that delivers the chunk (never from a foreign thread before the task suspends).
    nonisolated(nonsending) func nextChunk() async throws(CloseReason) -> InboundBytes? {
        if loop.inLoop {
            let state = self.state
            switch try state.takeChunk() {
            case .chunk(let chunk): return chunk
            case .end: return nil
            case .wait: return try await _unsafeInheritExecutor_withUnsafeContinuation { state.waitForChunk($0) }.get()
            }
        }
        return try await onLoop { () throws(CloseReason) in try await self.nextChunk() }
    }
}
