internal import CCorral
import Glibc
import SystemPackage

/// A non-blocking stream socket (TCP or UNIX) driven by one event loop: the callback layer
/// everything else (the async API, the HTTP server) is built on.
///
/// Reads land in memory of the loop (epoll: its shared buffer; uring: a buffer it provides to
/// the kernel for the read); only bytes the handler leaves unconsumed are copied into the
/// connection. Writes queue (`write`) and go out together (`flush`): one gathered send per
/// flush (epoll: sendmsg(2) at once; uring: a send request submitted with the loop turn's
/// others), resumed when the socket has room again after a partial write. When more than
/// `highWatermark` bytes are queued the connection stops reading and reports `isWritable ==
/// false`, so a peer that never reads cannot make the process buffer without bound.
///
/// The two backends share the state machine below; the kernel side is in
/// `Connection+Readiness.swift` (epoll) and `Connection+Completion.swift` (io_uring).
///
/// Loop-bound: every method must be called on the connection's loop (checked in debug builds).
/// It is `Sendable` only so that a task submitted to that loop can capture it.
///
/// State, in three parts (each transition is in one method below):
/// - `phase`: connecting → open → (lingering →) closed.
/// - `readState`: whether unread input is known to wait in the kernel (edge-triggered epoll
///   reports it once), and whether the peer has finished sending.
/// - `writeState` and `afterFlush`: whether a flush is waiting for room, and what happens once
///   the queue is empty (nothing, shut down the write side, close, or close lingering).
public final class Connection: Selectable, @unchecked Sendable {
    public let loop: EventLoop
    /// The socket, owned by the connection and closed by it exactly once. Borrow it for
    /// getsockopt/setsockopt; never close it.
    public let fd: CInt
    /// The loop's io_uring side (`uring` backend), nil for epoll.
    let ring: CompletionRing?
    // Exclusivity: the mutable state below is read and written on every message, and only on
    // the loop's thread; no access to it spans a call into a handler (each method reads or
    // writes and ends the access before calling out). Without `@exclusivity(unchecked)` each
    // access costs a dynamic check (swift_beginAccess: a thread-local access set): 13 per
    // echoed message, 2.2× the instructions of the whole user-space path (Benchmarks/callgrind.py).

    /// The handler; released when the connection closes (breaking any handler↔connection cycle).
    @exclusivity(unchecked) public private(set) var handler: (any ConnectionHandler)?

    /// Queued bytes above which `isWritable` turns false (and reading pauses).
    @exclusivity(unchecked) public var highWatermark = 256 * 1024
    /// Queued bytes at or below which `isWritable` turns true again.
    @exclusivity(unchecked) public var lowWatermark = 64 * 1024
    /// Unconsumed input beyond this closes the connection (`CloseReason.inputLimitExceeded`):
    /// a handler that never consumes cannot make the process buffer without bound.
    @exclusivity(unchecked) public var maxBufferedInput = 1 << 20
    /// Most bytes one recv(2) takes. What the handler leaves unconsumed (e.g. pipelined
    /// requests while writes are backed up) is copied into the connection, so this bounds
    /// the memory a connection can be made to hold. (uring: a read is at most one of the
    /// loop's receive buffers, 4 KiB, whatever this says.)
    @exclusivity(unchecked) public var maxReadSize = Int.max
    /// False while more than `highWatermark` bytes are queued; `connectionWritabilityDidChange`
    /// reports each change.
    public var isWritable: Bool { writable }
    // Read by handlers in other modules on every request: a public stored `var` read across
    // modules keeps its dynamic exclusivity check whatever `@exclusivity(unchecked)` says, a
    // computed property over a private one does not (Benchmarks/callgrind.py --http).
    @exclusivity(unchecked) private var writable = true

    enum Phase {
        /// An outgoing connect(2) is in progress (EPOLLOUT will say how it went).
        case connecting
        /// Reading and writing.
        case open
        /// Lingering close: the write side is shut down and input is read and discarded until
        /// the peer's EOF, a deadline or a byte limit (`Linger`), then the socket closes.
        case lingering
        /// The descriptor is closed; nothing more happens.
        case closed
    }

    enum ReadState {
        /// No unread input is known: the next EPOLLIN edge starts a read.
        case waiting
        /// An edge reported input not yet read to the end (reading stopped early: paused,
        /// back-pressure, or the four-reads fairness limit).
        case available
        /// As `available`, and the peer has shut down its side (EPOLLRDHUP/EPOLLHUP): read on,
        /// past short reads, until recv(2) returns 0.
        case availableUntilEOF
        /// recv(2) returned 0: the peer sends nothing more.
        case ended

        var hasInput: Bool { self == .available || self == .availableUntilEOF }
    }

    enum WriteState {
        /// Nothing is waiting to go out, or a flush has not been asked for.
        case idle
        /// uring: a flush asked for a send, which the loop prepares before it next sleeps.
        case sendQueued
        /// uring: the send is submitted; its completion says how much the kernel took.
        case sending
        /// The kernel's send buffer is full: EPOLLOUT (or a POLLOUT request) resumes the flush.
        case waitingForRoom
        /// A flush stopped after its syscall budget with room left: a loop task resumes it.
        case yielded
        /// shutdown(SHUT_WR) is done: nothing more will be sent.
        case shutDown
    }

    enum AfterFlush {
        /// Keep the connection open.
        case nothing
        /// Shut down the write side (the peer reads EOF); keep reading.
        case shutdownWrite
        /// Close the descriptor.
        case close
        /// Shut down the write side, then linger (see `Phase.lingering`).
        case linger(Linger)

        /// Whether a finished flush is followed at once by a FIN (close or shutdown), so its
        /// last bytes may wait for it (MSG_MORE) and go in the FIN's segment. Not when input is
        /// known to be unread: close(2) would then send a reset and drop the held bytes.
        var sendsFIN: Bool {
            switch self {
            case .nothing: false
            case .shutdownWrite, .close, .linger: true
            }
        }

        var stopsReading: Bool {
            switch self {
            case .nothing, .shutdownWrite: false
            case .close, .linger: true
            }
        }
    }

    @exclusivity(unchecked) var phase = Phase.connecting
    @exclusivity(unchecked) var readState = ReadState.waiting
    @exclusivity(unchecked) var writeState = WriteState.idle
    @exclusivity(unchecked) var afterFlush = AfterFlush.nothing
    /// Set by `pauseReading()`: input stays in the kernel (TCP flow control slows the peer).
    @exclusivity(unchecked) var readsPaused = false
    /// True while the handler is being given input (re-entrancy guard for redelivery).
    @exclusivity(unchecked) var delivering = false
    /// A loop task is queued to continue reading or flushing without a new edge.
    @exclusivity(unchecked) private var continuationQueued = false
    @exclusivity(unchecked) var input = GrowableBytes()
    @exclusivity(unchecked) var output: OutboundQueue<SocketSink>
    @exclusivity(unchecked) var token: RegistrationToken?
    let isTCP: Bool
    /// Lingering close: bytes discarded so far, the most to discard, and the deadline's timer.
    @exclusivity(unchecked) var lingerDiscarded = 0
    @exclusivity(unchecked) var lingerLimit = 0
    private var lingerTimer: TimerHandle?

    /// uring: the state of the connection's multishot receive.
    enum Receive {
        /// None is armed (never yet, or the kernel ended it: EOF, ENOBUFS, an error, a cancel).
        case idle
        /// Reads arrive as completions.
        case armed
        /// Cancelled (reading paused); completions may still come until the last one.
        case cancelling
    }

    @exclusivity(unchecked) var receive = Receive.idle
    /// uring: the peer's EOF arrived while input read before it still waited in `input`
    /// (reading was paused): the handler hears of the EOF once that input is consumed.
    @exclusivity(unchecked) var eofPending = false
    /// uring: a POLLOUT request is armed (the send buffer was full).
    @exclusivity(unchecked) var writableArmed = false
    /// uring: bytes in the send request in flight.
    @exclusivity(unchecked) var preparedBytes = 0
    /// uring: the current flush had to wait (for room, or for a later turn), or the handler
    /// asked for its end (`reportDrainBeforeSleeping`): its end is reported to the handler
    /// (`connectionDidDrainOutput`) before the loop sleeps.
    @exclusivity(unchecked) var flushWaited = false

    /// uring: report the end of the output queued now to the handler before the loop sleeps,
    /// even if it goes out at once (HTTP's access log completes its lines then). Otherwise a
    /// send that needs no other reaction is submitted in the io_uring_enter that sleeps (one
    /// syscall per request/response) and its end is reported with the loop's next wake-up.
    /// The request ends with that flush.
    package func reportDrainBeforeSleeping() { flushWaited = true }

    /// Bytes queued and not yet taken by the kernel.
    public var pendingWriteBytes: Int { output.pendingBytes }
    /// Bytes the kernel has taken from the write queue since the connection opened (also
    /// after it closed: what was sent before the close).
    public var sentBytes: Int { output.sentBytes }
    /// Memory the connection holds for its own buffers: unconsumed input and copied output.
    public var bufferedMemory: Int { input.capacity + output.stagingCapacity }
    /// The peer's address (getpeername(2)); nil if the socket is not connected any more.
    public var remoteAddress: SocketAddress? { try? Posix.getpeername(fd) }
    /// True until the connection closes or starts closing (`closeAfterFlush`, a lingering close).
    public var isOpen: Bool {
        switch phase {
        case .connecting, .open: afterFlush.stopsReading == false
        case .lingering, .closed: false
        }
    }

    init(loop: EventLoop, fd: CInt, isTCP: Bool, handler: any ConnectionHandler) {
        self.loop = loop
        self.ring = loop.ring
        self.fd = fd
        self.isTCP = isTCP
        self.handler = handler
        self.output = OutboundQueue(sink: SocketSink(fd: fd))
    }

    // MARK: set-up

    /// Takes over an accepted (or otherwise connected) socket on `loop`: applies `options` (nil:
    /// the socket already has them, e.g. inherited from its listening socket), registers for
    /// reads and calls `connectionDidOpen`. Closes the descriptor if that fails. Loop thread only.
    ///
    /// `readAtOnce` (input is expected to be waiting, e.g. accepted through TCP_DEFER_ACCEPT):
    /// reads right after `connectionDidOpen` instead of waiting for epoll to report input, and
    /// registers with epoll only if the connection is still open after that read. A connection
    /// answered and closed in its first read (one request, `Connection: close`) then never
    /// costs an epoll_ctl; no edge is lost, as EPOLL_CTL_ADD reports what is ready already.
    @discardableResult
    public static func adopt(
        _ descriptor: consuming OwnedDescriptor, on loop: EventLoop, options: SocketOptions? = SocketOptions(),
        isTCP: Bool = true, readAtOnce: Bool = false, handler: any ConnectionHandler
    ) -> Connection? {
        loop.assertInLoop()
        let fd = descriptor.take()
        let connection = Connection(loop: loop, fd: fd, isTCP: isTCP, handler: handler)
        do {
            try options?.apply(to: fd, isTCP: isTCP)
            if connection.ring != nil {
                connection.token = loop.registerForCompletions(connection)
            } else if !readAtOnce {
                connection.token = try loop.register(connection, fd: fd, interest: Connection.interest)
            }
        } catch {
            if let token = connection.token { loop.forget(token) }
            Posix.close(fd)
            return nil
        }
        connection.phase = .open
        loop.stats.connectionOpened()
        handler.connectionDidOpen(connection)
        if connection.ring != nil {
            connection.startReceiving()
        } else if readAtOnce {
            connection.readFirstThenRegister()
        }
        return connection
    }

    /// Starts a non-blocking connect to `address` on `loop`; `connectionDidOpen` (or
    /// `connectionDidClose` with the reason) follows. Loop thread only.
    public static func connect(
        to address: SocketAddress, on loop: EventLoop, options: SocketOptions = SocketOptions(),
        handler: any ConnectionHandler
    ) throws(SystemError) -> Connection {
        loop.assertInLoop()
        let fd = try Posix.socket(domain: address.family, type: ccorral_SOCK_STREAM)
        let isTCP = address.family != AF_UNIX
        let connection = Connection(loop: loop, fd: fd, isTCP: isTCP, handler: handler)
        do throws(SystemError) {
            try options.apply(to: fd, isTCP: isTCP)
            let result = try Posix.connect(fd, address)
            if let ring = connection.ring {
                let token = loop.registerForCompletions(connection)
                connection.token = token
                if case .wouldBlock = result { try ring.whenWritable(fd: fd, token: token, as: .connected) }
            } else {
                connection.token = try loop.register(connection, fd: fd, interest: Connection.interest)
            }
            if case .processed = result {
                connection.phase = .open
                loop.stats.connectionOpened()
                handler.connectionDidOpen(connection)
                if connection.ring != nil { connection.startReceiving() }
            }
        } catch {
            if let token = connection.token { loop.deregister(token, fd: fd, armed: .connected) }
            Posix.close(fd)
            throw error
        }
        return connection
    }

    // MARK: events

    package func loopIsClosing() { close(reason: .loopShutDown) }

    func finishConnect() {
        let code = (try? Posix.getsockopt(fd, SOL_SOCKET, SO_ERROR)) ?? 0
        if code != 0 {
            close(reason: .failed(SystemError("connect", errno: Errno(rawValue: code))))
            return
        }
        phase = .open
        loop.stats.connectionOpened()
        handler?.connectionDidOpen(self)
    }

    /// Whether input may be handed to the handler now.
    var canRead: Bool {
        phase == .open && !readsPaused && writable && !afterFlush.stopsReading
    }

    /// Input is known to wait in the kernel and nothing is reading it (epoll: an edge said so;
    /// uring: no receive is armed and the peer has not finished).
    var inputWaiting: Bool {
        ring == nil ? readState.hasInput : receive == .idle && readState != .ended
    }

    /// Reading may go on again (resumed, writable again): uring arms a receive at once; epoll
    /// reads on the next loop turn, since the edge that reported the input will not come again.
    func resumeInput() {
        guard canRead, inputWaiting else { return }
        if ring != nil { startReceiving() } else { queueContinuation() }
    }

    /// Continues reading (input signalled earlier), flushing or lingering on a later loop turn.
    func queueContinuation() {
        guard !continuationQueued, phase == .open || phase == .lingering else { return }
        continuationQueued = true
        loop.execute { [self] in
            continuationQueued = false
            switch phase {
            case .open:
                if writeState == .yielded || writeState == .waitingForRoom && ring == nil, !output.isEmpty { flush() }
                if canRead && inputWaiting {
                    if ring != nil { startReceiving() } else { readAvailable() }
                }
            case .lingering:
                if ring == nil { discardInput() }
            case .connecting, .closed:
                break
            }
        }
    }

    func pendingSocketError() -> SystemError? {
        let code = (try? Posix.getsockopt(fd, SOL_SOCKET, SO_ERROR)) ?? 0
        return code == 0 ? nil : SystemError("socket", errno: Errno(rawValue: code))
    }

    /// Hands bytes just read to the handler. `bytes` is either memory of the loop (input was
    /// empty) or the spare space of `input`, right after what it holds.
    func deliver(read bytes: UnsafeRawBufferPointer) {
        guard let handler else { return }
        delivering = true
        var consumed: Int
        if input.isEmpty {
            consumed = handler.connection(self, didRead: bytes)
            if consumed < bytes.count && phase == .open {
                input.append(UnsafeRawBufferPointer(rebasing: bytes[consumed...]))
            }
        } else {
            input.count += bytes.count  // the read went straight into input's spare space
            consumed = handler.connection(self, didRead: input.bytes)
            if phase == .open { input.removeFirst(consumed) }
        }
        delivering = false
        guard phase == .open else {
            input.deallocate()  // kept by `close` while the handler still held the bytes
            return
        }
        if consumed > 0 && !input.isEmpty && writable {
            // The handler stopped on back-pressure that its own flush has since relieved.
            redeliverBufferedInput()
        }
        if input.isEmpty { input.reset(keepingCapacityUpTo: 0) }
        if input.count > maxBufferedInput {
            close(reason: .inputLimitExceeded)
        }
    }

    // MARK: writing

    /// Queues a copy of `bytes`.
    public func write(_ bytes: UnsafeRawBufferPointer) {
        loop.assertInLoop()
        guard acceptsWrites else { return }
        output.append(bytes)
        checkHighWatermark()
    }

    /// Queues bytes that `body` appends straight into the connection's staging memory, saving
    /// the copy `write(_:)` makes of bytes assembled elsewhere (CorralHTTP renders response heads
    /// this way). `body` may only append; it is not called once the connection no longer takes
    /// writes. Returns how many bytes were queued.
    @_spi(Internals) @discardableResult
    public func writeStaged(_ body: (inout GrowableBytes) -> Void) -> Int {
        loop.assertInLoop()
        guard acceptsWrites else { return 0 }
        let count = output.appendInPlace(body)
        checkHighWatermark()
        return count
    }

    /// Queues a copy of `bytes`.
    public func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    /// Queues a shared chunk without copying it.
    public func write(_ chunk: ByteChunk) {
        loop.assertInLoop()
        guard acceptsWrites else { return }
        output.append(chunk)
        checkHighWatermark()
    }

    /// Queues a file region, sent with sendfile(2).
    public func write(_ region: FileRegion) {
        loop.assertInLoop()
        guard acceptsWrites else { return }
        output.append(region)
        checkHighWatermark()
    }

    private var acceptsWrites: Bool {
        (phase == .open || phase == .connecting) && writeState != .shutDown
    }

    /// Sends everything queued: one gathered send per run of bytes, sendfile(2) per file
    /// region. epoll: now, with sendmsg(2); what the kernel does not take goes out when EPOLLOUT
    /// reports room. uring: the send is submitted with the loop turn's other requests, just
    /// before the loop sleeps (`pendingWriteBytes` drops when it has completed).
    public func flush() {
        loop.assertInLoop()
        guard phase == .open, writeState != .shutDown else { return }
        if let ring {
            requestSend(on: ring)
        } else {
            flushNow()
        }
    }

    /// A flush has finished: everything queued is sent. `late`: it had to wait (for room, for a
    /// later loop turn, or for a uring completion), so whoever tracks completion is told.
    func flushCompleted(late: Bool) {
        writeState = .idle
        flushWaited = false
        if late {
            // The end of output that had to wait: tell whoever tracks completion.
            handler?.connectionDidDrainOutput(self)
            guard phase == .open else { return }
        }
        // The handler may react to regained writability by queueing (and flushing) more,
        // re-entering flush; if it did, that call owns what happens next.
        checkLowWatermark()
        guard phase == .open, output.isEmpty, writeState == .idle else { return }
        finishFlushedOutput()
    }

    /// Everything queued has been sent: carry out what `afterFlush` asked for.
    private func finishFlushedOutput() {
        switch afterFlush {
        case .nothing:
            break
        case .shutdownWrite:
            afterFlush = .nothing
            shutdownWriteSide()
        case .close:
            close(reason: .closed)
        case .linger(let linger):
            startLingering(linger)
        }
    }

    func shutdownWriteSide() {
        writeState = .shutDown
        do {
            try Posix.shutdown(fd, how: CInt(SHUT_WR))
        } catch {
            close(reason: .failed(error))  // ENOTCONN: the peer is already gone
        }
    }

    func checkHighWatermark() {
        if writable && output.pendingBytes > highWatermark {
            writable = false
            handler?.connectionWritabilityDidChange(self)
        }
    }

    func checkLowWatermark() {
        if !writable && output.pendingBytes <= lowWatermark {
            writable = true
            handler?.connectionWritabilityDidChange(self)
            redeliverBufferedInput()
            resumeInput()
        }
    }

    /// Input the handler left unconsumed while it was blocked on back-pressure (e.g. pipelined
    /// requests) would otherwise wait for the next read, which may never come: present it again,
    /// for as long as the handler makes progress and the connection stays writable. Never
    /// nested: a handler that flushes from inside a delivery must not see the same bytes twice.
    func redeliverBufferedInput() {
        guard !delivering else { return }
        delivering = true
        defer { delivering = false }
        while phase == .open, !input.isEmpty, writable, !readsPaused, !afterFlush.stopsReading, let handler {
            let consumed = handler.connection(self, didRead: input.bytes)
            guard phase == .open else {
                input.deallocate()  // kept by `close` while the handler still held the bytes
                return
            }
            input.removeFirst(consumed)
            if consumed == 0 { break }
        }
        if phase == .open && input.isEmpty {
            input.reset(keepingCapacityUpTo: 0)
            if eofPending {
                eofPending = false
                handler?.connectionDidReadEOF(self)
            }
        }
    }

    // MARK: reading control

    /// Stops handing input to the handler until `resumeReading()`: new input stays in the
    /// kernel, whose receive buffer then fills so that TCP flow control slows the peer.
    public func pauseReading() {
        loop.assertInLoop()
        readsPaused = true
    }

    /// Hands input to the handler again: first what it left unconsumed, then what the kernel holds.
    public func resumeReading() {
        loop.assertInLoop()
        guard readsPaused, phase == .open else { return }
        readsPaused = false
        redeliverBufferedInput()
        resumeInput()
    }

    /// True while `pauseReading()` is in effect.
    public var isReadingPaused: Bool { readsPaused }

    // MARK: closing

    /// Sends what is queued, then shuts down the write side (the peer reads EOF); reading goes on.
    public func shutdownWriteAfterFlush() {
        loop.assertInLoop()
        guard phase == .open, case .nothing = afterFlush else { return }
        afterFlush = .shutdownWrite
        flush()
    }

    /// Sends what is queued, then closes. Input that arrives meanwhile is not read; if some is
    /// left unread at the close, the kernel answers the peer with a reset, which can destroy
    /// the reply before the peer reads it: use `closeAfterFlush(lingering:)` when the peer may
    /// still be sending (e.g. an HTTP server closing a connection mid-stream).
    public func closeAfterFlush() {
        loop.assertInLoop()
        switch phase {
        case .connecting: close(reason: .closed)
        case .open:
            guard !afterFlush.stopsReading else { return }
            afterFlush = .close
            flush()
        case .lingering, .closed: break
        }
    }

    /// A lingering close (nginx's `lingering_close`): sends what is queued, shuts down the write
    /// side, then reads and discards input until the peer's EOF, `linger.timeoutNanoseconds` or
    /// `linger.maxDiscardedBytes`, whichever comes first, and closes. A request that arrived
    /// after the reply is therefore never answered by a reset that could destroy the reply in
    /// the peer's receive buffer. The handler sees `connectionDidClose(reason: .closed)` at the end.
    public func closeAfterFlush(lingering linger: Linger) {
        loop.assertInLoop()
        switch phase {
        case .connecting: close(reason: .closed)
        case .open:
            guard !afterFlush.stopsReading else { return }
            afterFlush = .linger(linger)
            if writeState == .shutDown {
                startLingering(linger)
            } else {
                flush()
            }
        case .lingering, .closed: break
        }
    }

    private func startLingering(_ linger: Linger) {
        if writeState != .shutDown { shutdownWriteSide() }
        guard phase == .open else { return }
        guard readState != .ended else {
            close(reason: .closed)  // the peer has finished sending: nothing can be left unread
            return
        }
        phase = .lingering
        if !delivering { input.deallocate() }  // else the delivery frees it (see `close`)
        lingerTimer = loop.schedule(afterNanoseconds: linger.timeoutNanoseconds) { [weak self] in
            self?.close(reason: .closed)
        }
        lingerLimit = linger.maxDiscardedBytes
        if ring != nil {
            if receive == .idle { startReceiving() }  // it was cancelled while reading paused
        } else {
            discardInput()
        }
    }

    /// Closes now, dropping anything queued; the handler gets `connectionDidClose(reason: .closed)`.
    public func close() { close(reason: .closed) }

    /// Closes now, dropping anything queued; the handler gets `connectionDidClose` with `reason`.
    public func close(reason: CloseReason) {
        loop.assertInLoop()
        guard phase != .closed else { return }
        let wasOpen = phase != .connecting
        // uring: the requests still armed on the socket, cancelled before the close.
        var armed: (UInt64, UInt64) = (0, 0)
        if let token {
            armed = (receive != .idle ? token.userData(.receive) : 0,
                     writableArmed ? token.userData(.writable) : !wasOpen ? token.userData(.connected) : 0)
        }
        phase = .closed
        // epoll: close(2) removes the descriptor from epoll (we never dup it), so no
        // EPOLL_CTL_DEL. uring: the ring cancels the receive (which holds the socket open) and
        // closes it with the turn's submission. Dropping the registration makes any event or
        // completion still queued for it stale.
        loop.close(fd, registration: token, armed: armed)
        token = nil
        receive = .idle
        writableArmed = false
        lingerTimer?.cancel()
        lingerTimer = nil
        output.removeAll()
        // A handler that closes from inside `connection(_:didRead:)` may still be reading the
        // buffer it was given: the delivery frees it once the handler returns.
        if !delivering { input.deallocate() }
        if wasOpen { loop.stats.connectionClosed() }
        let handler = self.handler
        self.handler = nil
        handler?.connectionDidClose(self, reason: reason)
    }

    deinit {
        input.deallocate()
    }
}

/// How long and how much a lingering close (`Connection.closeAfterFlush(lingering:)`) reads
/// and discards before it closes anyway. nginx lingers up to 30 s (`lingering_time`) with 5 s
/// between reads (`lingering_timeout`); the default here is shorter, and bounded in bytes too.
public struct Linger: Sendable, Hashable {
    /// Close at this deadline, counted from the shutdown of the write side, whatever happens.
    public var timeoutNanoseconds: UInt64
    /// Close once this many bytes have been discarded (a peer that keeps sending gets a reset).
    public var maxDiscardedBytes: Int

    public init(timeoutNanoseconds: UInt64 = 5_000_000_000, maxDiscardedBytes: Int = 1 << 20) {
        self.timeoutNanoseconds = timeoutNanoseconds
        self.maxDiscardedBytes = maxDiscardedBytes
    }
}
