import DequeModule

/// The loop-side half of an `AsyncConnection`: the callback handler of its `Connection`, and
/// the continuations of the task using it. Loop thread only.
final class AsyncConnectionState: ConnectionHandler {
    typealias ChunkWaiter = UnsafeContinuation<Result<InboundBytes?, CloseReason>, Never>
    typealias RoomWaiter = UnsafeContinuation<Result<Void, CloseReason>, Never>

    enum Take {
        case chunk(InboundBytes)
        case end
        case wait
    }

    let loop: EventLoop
    /// Set by `connectionDidOpen`; kept after the close (an inert object) for identity.
    @exclusivity(unchecked) private(set) var connection: Connection?
    /// Bytes waiting for the consumer above which reading pauses, and at or below which it resumes.
    let inboundHighWatermark: Int
    let inboundLowWatermark: Int
    /// Called once, on the loop, when the connection is established (or fails to be).
    private var whenOpened: ((Result<AsyncConnection, CloseReason>) -> Void)?

    // Exclusivity: loop thread only, and no access spans a call out (see Connection).
    @exclusivity(unchecked) private var buffered = Deque<InboundBytes>()
    @exclusivity(unchecked) private(set) var bufferedBytes = 0
    @exclusivity(unchecked) private var chunkWaiter: ChunkWaiter?
    @exclusivity(unchecked) private var roomWaiters: [RoomWaiter] = []
    /// The storage of the chunk handed out last: recycled if the consumer let go of it.
    @exclusivity(unchecked) private var lastHandedOut: InboundBytes.Storage?
    @exclusivity(unchecked) private var peerFinished = false
    @exclusivity(unchecked) private(set) var closeReason: CloseReason?

    init(
        loop: EventLoop, inboundHighWatermark: Int = 64 * 1024, inboundLowWatermark: Int = 16 * 1024,
        whenOpened: @escaping (Result<AsyncConnection, CloseReason>) -> Void
    ) {
        self.loop = loop
        self.inboundHighWatermark = inboundHighWatermark
        self.inboundLowWatermark = inboundLowWatermark
        self.whenOpened = whenOpened
    }

    // MARK: the consumer's side

    /// The next chunk if one is ready, the end, or `.wait`.
    func takeChunk() throws(CloseReason) -> Take {
        precondition(chunkWaiter == nil, "two tasks iterate one connection's inbound bytes at once")
        recycleLastChunk()
        if let chunk = buffered.popFirst() {
            bufferedBytes -= chunk.count
            if let connection, connection.isReadingPaused, bufferedBytes <= inboundLowWatermark {
                connection.resumeReading()
            }
            lastHandedOut = chunk.storage
            return .chunk(chunk)
        }
        if peerFinished { return .end }
        if let closeReason {
            if closeReason.isOrderly { return .end }
            throw closeReason
        }
        return .wait
    }

    func waitForChunk(_ waiter: ChunkWaiter) {
        chunkWaiter = waiter
    }

    private func recycleLastChunk() {
        guard lastHandedOut != nil else { return }
        // take(): the reference moves into the pool, no retain/release pair per message.
        if isKnownUniquelyReferenced(&lastHandedOut) {
            loop.inboundPool.give(lastHandedOut.take()!)
        } else {
            lastHandedOut = nil
        }
    }

    func checkWritable() throws(CloseReason) {
        if let closeReason { throw closeReason }
    }

    /// On the loop: queues `bytes` (throwing if the connection is closed) and returns true if
    /// the queue is still below its high watermark. Off the loop: does nothing, returns false.
    func queue(_ bytes: UnsafeRawBufferPointer) throws(CloseReason) -> Bool {
        guard loop.inLoop else { return false }
        try checkWritable()
        guard let connection else { return true }
        connection.write(bytes)
        return connection.isWritable
    }

    /// `queue` for received bytes.
    func queue(_ bytes: InboundBytes) throws(CloseReason) -> Bool {
        try bytes.withUnsafeBytes { (raw) throws(CloseReason) in try queue(raw) }
    }

    /// `queue` for an array.
    func queue(_ bytes: [UInt8]) throws(CloseReason) -> Bool {
        do {
            return try bytes.withUnsafeBytes { try queue($0) }
        } catch let reason as CloseReason {
            throw reason
        } catch {
            preconditionFailure("unreachable: queue throws only CloseReason")
        }
    }

    /// `queue` for part of an array.
    func queue(_ bytes: ArraySlice<UInt8>) throws(CloseReason) -> Bool {
        do {
            return try bytes.withUnsafeBytes { try queue($0) }
        } catch let reason as CloseReason {
            throw reason
        } catch {
            preconditionFailure("unreachable: queue throws only CloseReason")
        }
    }

    /// `queue` for a shared chunk.
    func queue(_ chunk: ByteChunk) throws(CloseReason) -> Bool {
        guard loop.inLoop else { return false }
        try checkWritable()
        guard let connection else { return true }
        connection.write(chunk)
        return connection.isWritable
    }

    /// `queue` for a file region.
    func queue(_ region: FileRegion) throws(CloseReason) -> Bool {
        guard loop.inLoop else { return false }
        try checkWritable()
        guard let connection else { return true }
        connection.write(region)
        return connection.isWritable
    }

    /// On the loop: flushes and returns true if the queue is below its high watermark
    /// afterwards. Off the loop: does nothing, returns false.
    func flushNow() throws(CloseReason) -> Bool {
        guard loop.inLoop else { return false }
        try checkWritable()
        guard let connection else { return true }
        connection.flush()
        return connection.isWritable
    }

    /// Suspends while the connection is above its high watermark (flushing first, so that the
    /// queue drains); returns at once otherwise.
    nonisolated(nonsending) func waitForRoom() async throws(CloseReason) {
        guard let connection, !connection.isWritable else { return }
        connection.flush()
        while let connection = self.connection, !connection.isWritable, closeReason == nil {
            try await withUnsafeContinuation { roomWaiters.append($0) }.get()
        }
        try checkWritable()
    }

    func closeAfterFlush(lingering linger: Linger?) {
        guard let connection else { return }
        if let linger { connection.closeAfterFlush(lingering: linger) } else { connection.closeAfterFlush() }
    }

    // MARK: the connection's callbacks

    func connectionDidOpen(_ connection: Connection) {
        self.connection = connection
        let opened = whenOpened
        whenOpened = nil
        opened?(.success(AsyncConnection(state: self)))
    }

    func connection(_ connection: Connection, didRead buffer: UnsafeRawBufferPointer) -> Int {
        let storage = loop.inboundPool.take(atLeast: buffer.count)
        storage.base.copyMemory(from: buffer.baseAddress!, byteCount: buffer.count)
        let chunk = InboundBytes(storage: storage, count: buffer.count)
        if let waiter = chunkWaiter {
            chunkWaiter = nil
            lastHandedOut = storage
            waiter.resume(returning: .success(chunk))
        } else {
            buffered.append(chunk)
            bufferedBytes += chunk.count
            if bufferedBytes > inboundHighWatermark { connection.pauseReading() }
        }
        return buffer.count
    }

    func connectionDidReadEOF(_ connection: Connection) {
        peerFinished = true
        if buffered.isEmpty, let waiter = chunkWaiter {
            chunkWaiter = nil
            waiter.resume(returning: .success(nil))
        }
    }

    func connectionWritabilityDidChange(_ connection: Connection) {
        guard connection.isWritable else { return }
        resumeRoomWaiters(with: .success(()))
    }

    func connectionDidClose(_ connection: Connection, reason: CloseReason) {
        closeReason = reason
        if let opened = whenOpened {
            whenOpened = nil
            opened(.failure(reason))
        }
        if let waiter = chunkWaiter {
            chunkWaiter = nil
            waiter.resume(returning: (peerFinished || reason.isOrderly) ? .success(nil) : .failure(reason))
        }
        resumeRoomWaiters(with: .failure(reason))
    }

    private func resumeRoomWaiters(with result: Result<Void, CloseReason>) {
        guard !roomWaiters.isEmpty else { return }
        let waiters = roomWaiters
        roomWaiters.removeAll()
        for waiter in waiters { waiter.resume(returning: result) }
    }
}
