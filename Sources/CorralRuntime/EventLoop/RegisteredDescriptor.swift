/// Which readiness of a descriptor to watch.
public struct Readiness: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Input can be read (or the peer closed, or an error is pending).
    public static let readable = Readiness(rawValue: Epoll.readable)
    /// Output can be written (or an error is pending).
    public static let writable = Readiness(rawValue: Epoll.writable)
}

/// A descriptor of your own — a timerfd, signalfd, eventfd, pipe or UDP socket — watched by a
/// loop, with readiness callbacks and async waits. Create one with `EventLoop.register`.
///
/// The registration is edge-triggered, like the loop's connections: the loop learns once that
/// the descriptor became ready, and it stays "ready" here until an operation on it reports
/// EAGAIN. So a callback (`onReadable`) must read until EAGAIN, and async code should use
/// `whenReadable`/`whenWritable`, which do that bookkeeping: they run the non-blocking
/// operation, and if it would block, wait for the next edge and run it again.
///
/// Loop-bound: use it on its loop's thread (a task preferring the loop, a callback). It owns
/// the descriptor and closes it in `close()` or when the loop shuts down.
public final class RegisteredDescriptor: Selectable, @unchecked Sendable {
    public let loop: EventLoop
    /// The descriptor, borrowed: valid until `close()`.
    public let fd: CInt
    /// Called on each readable edge (also for end of file and errors). Read until EAGAIN.
    public var onReadable: ((RegisteredDescriptor) -> Void)?
    /// Called on each writable edge. Write until EAGAIN (or until done).
    public var onWritable: ((RegisteredDescriptor) -> Void)?

    private var token: RegistrationToken?
    private var readReady = false
    private var writeReady = false
    private var readWaiters: [UnsafeContinuation<Result<Void, CloseReason>, Never>] = []
    private var writeWaiters: [UnsafeContinuation<Result<Void, CloseReason>, Never>] = []
    private(set) var closeReason: CloseReason?

    fileprivate init(loop: EventLoop, fd: CInt) {
        self.loop = loop
        self.fd = fd
    }

    /// True until `close()` (or the loop's shutdown).
    public var isOpen: Bool { closeReason == nil }

    // MARK: async

    /// Runs `operation` (a non-blocking call on `fd` that returns nil when it would block),
    /// waiting for a readable edge whenever it would block. Returns what it returned.
    /// Throws the operation's error, or a `CloseReason` if the registration is closed (or the
    /// task cancelled) while waiting.
    public func whenReadable<T>(_ operation: () throws -> T?) async throws -> T {
        while true {
            if readReady || closeReason != nil {
                try checkOpen()
                if let result = try operation() { return result }
                readReady = false
            }
            try await wait(readable: true)
        }
    }

    /// `whenReadable` for output: runs `operation`, waiting for a writable edge while it would block.
    public func whenWritable<T>(_ operation: () throws -> T?) async throws -> T {
        while true {
            if writeReady || closeReason != nil {
                try checkOpen()
                if let result = try operation() { return result }
                writeReady = false
            }
            try await wait(readable: false)
        }
    }

    /// Waits until the descriptor is readable (returns at once if it is known to be).
    public func readable() async throws(CloseReason) {
        if !readReady { try await wait(readable: true) }
        try checkOpen()
    }

    /// Waits until the descriptor is writable (returns at once if it is known to be).
    public func writable() async throws(CloseReason) {
        if !writeReady { try await wait(readable: false) }
        try checkOpen()
    }

    /// Forget that the descriptor is readable: call after a read reported EAGAIN, when not
    /// using `whenReadable`.
    public func readWouldBlock() { readReady = false }

    /// Forget that the descriptor is writable (after EAGAIN).
    public func writeWouldBlock() { writeReady = false }

    private func checkOpen() throws(CloseReason) {
        if let closeReason { throw closeReason }
    }

    private func wait(readable: Bool) async throws(CloseReason) {
        loop.preconditionInLoop()
        try checkOpen()
        let bound = LoopBound(self, loop: loop)
        let result = await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Result<Void, CloseReason>, Never>) in
                // Cancelled before the waiter is in place: the handler's resume found nobody.
                if Task.isCancelled { return continuation.resume(returning: .failure(.cancelled)) }
                if readable { readWaiters.append(continuation) } else { writeWaiters.append(continuation) }
            }
        } onCancel: {
            loop.execute { bound.value.resumeWaiters(with: .failure(.cancelled)) }
        }
        try result.get()
    }

    private func resumeWaiters(with result: Result<Void, CloseReason>, readable: Bool? = nil) {
        if readable != false, !readWaiters.isEmpty {
            let waiters = readWaiters
            readWaiters.removeAll()
            for waiter in waiters { waiter.resume(returning: result) }
        }
        if readable != true, !writeWaiters.isEmpty {
            let waiters = writeWaiters
            writeWaiters.removeAll()
            for waiter in waiters { waiter.resume(returning: result) }
        }
    }

    // MARK: events

    package func handle(events: UInt32) {
        guard closeReason == nil else { return }
        // An error or hang-up makes both directions "ready": the next operation reports it.
        let failed = events & (Epoll.error | Epoll.hangup) != 0
        if failed || events & (Epoll.readable | Epoll.readHangup) != 0 {
            readReady = true
            resumeWaiters(with: .success(()), readable: true)
            onReadable?(self)
        }
        if closeReason == nil, failed || events & Epoll.writable != 0 {
            writeReady = true
            resumeWaiters(with: .success(()), readable: false)
            onWritable?(self)
        }
    }

    package func loopIsClosing() { close(reason: .loopShutDown) }

    /// Deregisters and closes the descriptor; waiters get `CloseReason.closed`.
    public func close() { close(reason: .closed) }

    private func close(reason: CloseReason) {
        guard closeReason == nil else { return }
        closeReason = reason
        // epoll: close(2) removes it; uring: its poll is cancelled first.
        loop.close(fd, registration: token, armed: (token?.userData(.poll) ?? 0, 0))
        token = nil
        onReadable = nil
        onWritable = nil
        resumeWaiters(with: .failure(reason))
    }

    fileprivate func register(interest: Interest) throws(SystemError) {
        token = try loop.register(self, fd: fd, interest: interest)
    }
}

extension EventLoop {
    /// Watches `descriptor` (which must be non-blocking) for `readiness`, edge-triggered; the
    /// returned registration owns it. Loop thread only (from a task preferring the loop, use
    /// `try await loop.submit { … }` elsewhere). On failure the descriptor is closed.
    public func register(
        _ descriptor: consuming OwnedDescriptor, for readiness: Readiness = [.readable],
        onReadable: ((RegisteredDescriptor) -> Void)? = nil, onWritable: ((RegisteredDescriptor) -> Void)? = nil
    ) throws(SystemError) -> RegisteredDescriptor {
        preconditionInLoop()
        let registration = RegisteredDescriptor(loop: self, fd: descriptor.take())
        registration.onReadable = onReadable
        registration.onWritable = onWritable
        var interest = readiness.rawValue | Epoll.edgeTriggered
        if readiness.contains(.readable) { interest |= Epoll.readHangup }
        do {
            try registration.register(interest: interest)
        } catch {
            registration.close()
            throw error
        }
        return registration
    }
}
