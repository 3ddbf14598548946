import CCorral
import Glibc
import SystemPackage

/// A non-blocking stream socket (TCP or UNIX) driven by one event loop.
///
/// Reads land in the loop's shared buffer; only bytes the handler leaves unconsumed are copied
/// into the connection. Writes queue (`write`) and go out together (`flush`): one gathered
/// sendmsg(2) per flush, resumed on EPOLLOUT after a partial write. When more than
/// `highWatermark` bytes are queued the connection stops reading and reports `isWritable ==
/// false`, so a peer that never reads cannot make the process buffer without bound.
/// All methods must be called on the connection's loop (it is Sendable only so it can be
/// captured by a task submitted to that loop).
public final class Connection: Selectable, @unchecked Sendable {
    public let loop: EventLoop
    public let fd: CInt
    /// The handler; released when the connection closes (breaking any handler↔connection cycle).
    public private(set) var handler: (any ConnectionHandler)?
    /// Free for the owner's use (e.g. the HTTP server's per-connection state index).
    public var userData: Int = 0

    public var highWatermark = 256 * 1024
    public var lowWatermark = 64 * 1024
    /// Unconsumed input beyond this closes the connection: a handler that never consumes
    /// cannot make the process buffer without bound.
    public var maxBufferedInput = 1 << 20
    /// Most bytes one read(2) takes. What the handler leaves unconsumed (e.g. pipelined
    /// requests while writes are backed up) is copied into the connection, so this bounds
    /// the memory a connection can be made to hold.
    public var maxReadSize = Int.max

    private var token: RegistrationToken?
    /// The kernel signalled input (an edge) that has not been read to the end yet.
    private var mayHaveInput = false
    /// The peer's FIN (or an error) has been signalled: its edge came with the last data, so
    /// reading must go on to EOF even after a short read.
    private var peerShutDown = false
    /// A read or a flush has been queued on the loop to continue without a new edge.
    private var continuationQueued = false
    private var input = GrowableBytes()
    private var output = OutboundQueue()
    private var state = State.connecting
    private var readsPaused = false
    /// True while the handler is being given input (re-entrancy guard for redelivery).
    private var delivering = false
    private var waitingForWritable = false
    private var afterFlush = AfterFlush.nothing
    public private(set) var isWritable = true
    private let isTCP: Bool

    private enum State {
        /// An outgoing connect(2) is in progress (EPOLLOUT will say how it went).
        case connecting
        case open
        case closed
    }

    private enum AfterFlush {
        case nothing
        case shutdownWrite
        case close
    }

    /// The peer's address (getpeername(2)); nil if the socket is not connected any more.
    public var remoteAddress: SocketAddress? { try? Posix.getpeername(fd) }

    /// Bytes the kernel has taken from the write queue since the connection opened (also
    /// after it closed: what was sent before the close).
    public var sentBytes: Int { output.sentBytes }

    /// Memory the connection holds for its own buffers: unconsumed input and copied output.
    public var bufferedMemory: Int { input.capacity + output.stagingCapacity }

    /// Bytes queued and not yet taken by the kernel.
    public var pendingWriteBytes: Int { output.pendingBytes }
    public var isOpen: Bool { state != .closed }

    init(loop: EventLoop, fd: CInt, isTCP: Bool, handler: any ConnectionHandler) {
        self.loop = loop
        self.fd = fd
        self.isTCP = isTCP
        self.handler = handler
    }

    // MARK: set-up

    /// Takes over an accepted descriptor on `loop`: applies `options` (nil: the socket already
    /// has them, e.g. inherited from its listening socket), registers for reads and calls
    /// `connectionDidOpen`. Closes the descriptor if that fails. Loop thread only.
    @discardableResult
    public static func adopt(
        fd: CInt, on loop: EventLoop, options: SocketOptions? = SocketOptions(), isTCP: Bool = true,
        handler: any ConnectionHandler
    ) -> Connection? {
        let connection = Connection(loop: loop, fd: fd, isTCP: isTCP, handler: handler)
        do {
            try options?.apply(to: fd, isTCP: isTCP)
            connection.token = try loop.register(connection, fd: fd, interest: Connection.interest)
        } catch {
            Posix.close(fd)
            return nil
        }
        connection.state = .open
        loop.stats.connectionOpened()
        handler.connectionDidOpen(connection)
        return connection
    }

    /// Starts a non-blocking connect to `address` on `loop`; `connectionDidOpen` (or
    /// `connectionDidClose` with the error) follows. Loop thread only.
    public static func connect(
        to address: SocketAddress, on loop: EventLoop, options: SocketOptions = SocketOptions(),
        handler: any ConnectionHandler
    ) throws(SystemError) -> Connection {
        let fd = try Posix.socket(domain: address.family, type: ccorral_SOCK_STREAM)
        let isTCP = address.family != AF_UNIX
        let connection = Connection(loop: loop, fd: fd, isTCP: isTCP, handler: handler)
        do throws(SystemError) {
            try options.apply(to: fd, isTCP: isTCP)
            let result = try Posix.connect(fd, address)
            connection.token = try loop.register(connection, fd: fd, interest: Connection.interest)
            if case .processed = result {
                connection.state = .open
                loop.stats.connectionOpened()
                handler.connectionDidOpen(connection)
            }
        } catch {
            if let token = connection.token { loop.deregister(token, fd: fd) }
            Posix.close(fd)
            throw error
        }
        return connection
    }

    // MARK: events

    /// Registered once, edge-triggered, for both directions, and never modified: pausing reads
    /// or waiting for room to write costs no epoll_ctl call, and a ready connection is not
    /// re-polled by every epoll_wait as level-triggered registrations are. The price is that
    /// an edge must not be lost: input is read until the socket is drained (a short read), and
    /// whatever cannot be done now (a paused read, the rest of a long flush) is resumed by a
    /// task on the loop rather than by waiting for an edge that will not come.
    static var interest: Interest { Epoll.readable | Epoll.writable | Epoll.readHangup | Epoll.edgeTriggered }

    package func handle(events: UInt32) {
        switch state {
        case .closed:
            return
        case .connecting:
            guard events & (Epoll.writable | Epoll.error | Epoll.hangup) != 0 else { return }
            finishConnect()
            guard state == .open else { return }
        case .open:
            break
        }
        if events & (Epoll.readable | Epoll.readHangup | Epoll.hangup | Epoll.error) != 0 {
            mayHaveInput = true
            if events & (Epoll.readHangup | Epoll.hangup | Epoll.error) != 0 { peerShutDown = true }
            if canRead {
                readAvailable()
            } else if events & (Epoll.hangup | Epoll.error) != 0 && !waitingForWritable {
                // Both directions are gone and nothing is reading or writing: close now (the
                // edge will not be repeated).
                close(error: pendingSocketError())
                return
            }
        }
        if state == .open && events & Epoll.writable != 0 && waitingForWritable {
            flush()
        }
    }

    package func loopIsClosing() { close(error: nil) }

    private func finishConnect() {
        let code = (try? Posix.getsockopt(fd, SOL_SOCKET, SO_ERROR)) ?? 0
        if code != 0 {
            close(error: SystemError("connect", errno: Errno(rawValue: code)))
            return
        }
        state = .open
        loop.stats.connectionOpened()
        handler?.connectionDidOpen(self)
    }

    /// Whether input may be handed to the handler now.
    private var canRead: Bool {
        state == .open && !readsPaused && isWritable && afterFlush != .close
    }

    /// Continues reading (input signalled earlier) or flushing on a later loop turn.
    private func queueContinuation() {
        guard !continuationQueued, state == .open else { return }
        continuationQueued = true
        loop.execute { [self] in
            continuationQueued = false
            guard state == .open else { return }
            if waitingForWritable && !output.isEmpty { flush() }
            if mayHaveInput && canRead { readAvailable() }
        }
    }

    private func pendingSocketError() -> SystemError? {
        let code = (try? Posix.getsockopt(fd, SOL_SOCKET, SO_ERROR)) ?? 0
        return code == 0 ? nil : SystemError("socket", errno: Errno(rawValue: code))
    }

    /// Reads what is there and hands it to the handler: until the socket is drained, or four
    /// reads (for fairness: the rest continues on the next loop turn).
    private func readAvailable() {
        var reads = 0
        while canRead && mayHaveInput {
            if reads == 4 {
                queueContinuation()
                return
            }
            reads += 1
            var target: UnsafeMutableRawBufferPointer
            if input.isEmpty {
                target = loop.readBuffer
            } else {
                target = input.spare(atLeast: min(16 * 1024, maxReadSize))
            }
            if target.count > maxReadSize { target = UnsafeMutableRawBufferPointer(rebasing: target[..<maxReadSize]) }
            let result: IOResult<Int>
            do {
                result = try Posix.read(fd, target)
            } catch {
                close(error: error)
                return
            }
            guard case .processed(let count) = result else {
                mayHaveInput = false
                return
            }
            if count == 0 {
                mayHaveInput = false
                handler?.connectionDidReadEOF(self)
                if state == .open { stopReading() }
                return
            }
            // A short read emptied the receive queue (stream sockets return what is there);
            // new data will raise a new edge, so no EAGAIN read is needed to re-arm.
            if count < target.count && !peerShutDown { mayHaveInput = false }
            deliver(read: UnsafeRawBufferPointer(rebasing: target[..<count]))
        }
    }

    private func deliver(read bytes: UnsafeRawBufferPointer) {
        guard let handler else { return }
        delivering = true
        var consumed: Int
        if input.isEmpty {
            consumed = handler.connection(self, didRead: bytes)
            if consumed < bytes.count && state == .open {
                input.append(UnsafeRawBufferPointer(rebasing: bytes[consumed...]))
            }
        } else {
            input.count += bytes.count  // the read went straight into input's spare space
            consumed = handler.connection(self, didRead: input.bytes)
            if state == .open { input.removeFirst(consumed) }
        }
        delivering = false
        guard state == .open else { return }
        if consumed > 0 && !input.isEmpty && isWritable {
            // The handler stopped on back-pressure that its own flush has since relieved.
            redeliverBufferedInput()
        }
        if input.isEmpty { input.reset(keepingCapacityUpTo: 0) }
        if input.count > maxBufferedInput {
            close(error: SystemError("read (unconsumed input over limit)", errno: .noBufferSpace))
        }
    }

    /// Stops reading (after EOF), keeping the write side alive.
    private func stopReading() {
        readsPaused = true
    }

    // MARK: writing

    /// Queues a copy of `bytes`.
    public func write(_ bytes: UnsafeRawBufferPointer) {
        guard state != .closed else { return }
        output.append(bytes)
        checkHighWatermark()
    }

    /// Queues a copy of `bytes`.
    public func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    /// Queues a shared chunk without copying it.
    public func write(_ chunk: ByteChunk) {
        guard state != .closed else { return }
        output.append(chunk)
        checkHighWatermark()
    }

    /// Queues a file region, sent with sendfile(2).
    public func write(_ region: FileRegion) {
        guard state != .closed else { return }
        output.append(region)
        checkHighWatermark()
    }

    /// Sends everything queued: one sendmsg per run of bytes, sendfile per file region.
    /// What the kernel does not take now goes out when EPOLLOUT reports room.
    public func flush() {
        guard state == .open else { return }
        let result: OutboundQueue.FlushResult
        do {
            result = try output.flush(fd: fd, iovecs: loop.iovecs, iovecCapacity: loop.iovecCapacity)
        } catch {
            close(error: error)
            return
        }
        switch result {
        case .done:
            let finishedLate = waitingForWritable
            waitingForWritable = false
            if finishedLate {
                // The end of output that had to wait for room: tell whoever tracks completion.
                handler?.connectionDidDrainOutput(self)
                guard state == .open else { return }
            }
            // The handler may react to regained writability by queueing (and flushing) more,
            // re-entering flush; if it did, that call owns what happens next.
            checkLowWatermark()
            guard state == .open, output.isEmpty else { return }
            switch afterFlush {
            case .nothing: break
            case .shutdownWrite:
                afterFlush = .nothing
                try? Posix.shutdown(fd, how: CInt(SHUT_WR))
            case .close:
                close(error: nil)
            }
        case .wouldBlock:
            // The kernel raises an EPOLLOUT edge when room appears.
            waitingForWritable = true
            checkLowWatermark()
        case .yielded:
            // Still writable, so no edge will come: continue on the next loop turn.
            waitingForWritable = true
            queueContinuation()
            checkLowWatermark()
        }
    }

    private func checkHighWatermark() {
        if isWritable && output.pendingBytes > highWatermark {
            isWritable = false
            handler?.connectionWritabilityDidChange(self)
        }
    }

    private func checkLowWatermark() {
        if !isWritable && output.pendingBytes <= lowWatermark {
            isWritable = true
            handler?.connectionWritabilityDidChange(self)
            redeliverBufferedInput()
            if mayHaveInput && canRead { queueContinuation() }
        }
    }

    /// Input the handler left unconsumed while it was blocked on back-pressure (e.g. pipelined
    /// requests) would otherwise wait for the next read, which may never come: present it again,
    /// for as long as the handler makes progress and the connection stays writable. Never
    /// nested: a handler that flushes from inside a delivery must not see the same bytes twice.
    private func redeliverBufferedInput() {
        guard !delivering else { return }
        delivering = true
        defer { delivering = false }
        while state == .open, !input.isEmpty, isWritable, afterFlush == .nothing, let handler {
            let consumed = handler.connection(self, didRead: input.bytes)
            guard state == .open else { return }
            input.removeFirst(consumed)
            if consumed == 0 { break }
        }
        if state == .open && input.isEmpty { input.reset(keepingCapacityUpTo: 0) }
    }

    // MARK: reading control

    /// Stops reading until `resumeReading()`; the kernel's receive buffer then fills and TCP
    /// flow control slows the peer.
    public func pauseReading() {
        readsPaused = true
    }

    public func resumeReading() {
        guard readsPaused, state == .open else { return }
        readsPaused = false
        if mayHaveInput { queueContinuation() }
    }

    /// Sets TCP_CORK: while set, the kernel sends only full segments (or after 200 ms).
    public func setCork(_ on: Bool) throws(SystemError) {
        try Posix.setsockopt(fd, CInt(IPPROTO_TCP), ccorral_TCP_CORK, CInt(on ? 1 : 0))
    }

    // MARK: closing

    /// Sends what is queued, then shuts down the write side (the peer reads EOF); reading goes on.
    public func shutdownWriteAfterFlush() {
        guard state == .open else { return }
        afterFlush = .shutdownWrite
        flush()
    }

    /// Sends what is queued, then closes.
    public func closeAfterFlush() {
        guard state == .open else {
            if state == .connecting { close(error: nil) }
            return
        }
        afterFlush = .close
        readsPaused = true
        flush()
    }

    /// Closes now, dropping anything queued.
    public func close(error: SystemError? = nil) {
        guard state != .closed else { return }
        let wasOpen = state == .open
        state = .closed
        if let token {
            // close(2) removes the descriptor from epoll (we never dup it), so no EPOLL_CTL_DEL:
            // dropping the registration makes any event still queued for it stale.
            loop.forget(token)
        }
        Posix.close(fd)
        output.removeAll()
        input.deallocate()
        if wasOpen { loop.stats.connectionClosed() }
        let handler = self.handler
        self.handler = nil
        handler?.connectionDidClose(self, error: error)
    }

    deinit {
        input.deallocate()
    }
}
