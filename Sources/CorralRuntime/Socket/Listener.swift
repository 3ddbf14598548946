internal import CCorral
import Glibc
import Logging
import Synchronization
import SystemPackage

/// Options of a listening socket and of the connections it accepts.
public struct ListenerOptions: Sendable {
    /// listen(2) backlog; the kernel caps it at net.core.somaxconn.
    public var backlog: CInt = 4096
    /// Options every accepted connection gets (TCP_NODELAY on by default). Over TCP they are set
    /// on the listening sockets and inherited by each accepted socket: no syscall per connection.
    public var connectionOptions = SocketOptions()
    /// TCP_DEFER_ACCEPT (man 7 tcp), for protocols where the client speaks first (HTTP): the
    /// kernel completes a connection only once its first bytes have arrived, so each accepted
    /// connection is read at once, without an epoll round (and is registered with epoll only
    /// if it stays open after that read). A client that connects and sends nothing is handed
    /// over anyway once this many seconds have passed (the kernel retransmits its SYN-ACK and
    /// accepts the ACK that answers it), and then waits for input as any other. nil: off (a
    /// protocol where the server speaks first must leave it off). TCP only.
    public var deferAcceptSeconds: Int? = nil
    /// Threads for the `blocking` strategy; nil means one per loop.
    public var blockingThreads: Int? = nil
    /// Connections accepted per wake-up before the loop turns to other work. The acceptor
    /// takes that many (or until accept4 says EAGAIN) only while connections arrive in bursts;
    /// when the last wake-up found a single one, it accepts one and lets the (level-triggered)
    /// listener report the next, which saves the accept4 that would only say EAGAIN. Every
    /// `acceptProbeInterval`th wake-up takes a whole batch again, to notice a burst.
    public var maxAcceptsPerWakeUp = 16
    public var acceptProbeInterval = 8
    /// How long accepting pauses (first, then doubling to the maximum) when accept4 reports
    /// EMFILE/ENFILE/ENOBUFS/ENOMEM. Meanwhile new connections wait in the kernel backlog.
    public var exhaustionBackoffNanoseconds: UInt64 = 10_000_000
    public var exhaustionBackoffMaxNanoseconds: UInt64 = 1_000_000_000
    /// Listening sockets handed over by a previous server (graceful restart, see
    /// `duplicateListeningDescriptors()`): the listener takes them over instead of binding, so
    /// connections queued in their backlog are not lost. One socket, or one per loop for
    /// `reuseport`. The listener owns them from `start()` on.
    public var inheritedDescriptors: [CInt]? = nil
    /// Where the listener reports: pauses for want of descriptors (error), async handlers that
    /// threw (debug). swift-log's default handler writes info and above to stderr.
    public var logger = Logger(label: "corral.listener")

    public init() {}
}

/// A listening socket (or one per loop, for `reuseport`) feeding connections to a group's
/// loops with an `AcceptStrategy`.
///
/// Two ways to serve: give `init` a handler factory (the callback API: one `ConnectionHandler`
/// per connection, on its loop), or create it without one and call `run { connection in … }`
/// (the async API: one child task per connection, running on the connection's loop).
///
/// `start()` binds and listens synchronously, so a client may connect as soon as it returns
/// (the kernel queues the connection until an acceptor takes it).
public final class Listener: Sendable {
    public typealias HandlerFactory = @Sendable (EventLoop) -> any ConnectionHandler

    public let group: EventLoopGroup
    public let strategy: AcceptStrategy
    public let options: ListenerOptions
    private let requestedAddress: SocketAddress
    private let makeHandler: HandlerFactory
    /// Connections accepted for `run(_:)` (listeners made without a handler factory).
    let accepted: AcceptedConnections?

    private struct State {
        var address: SocketAddress
        var acceptorStats: [AcceptorStats] = []
        var listeningFDs: [CInt] = []
        var acceptors: [LoopBound<PolledAcceptor>] = []
        var blockingThreads: [pthread_t] = []
        var started = false
        var handedOver = false
    }

    /// Taken by start, stop and the getters; never by the accept path.
    private let state: Locked<State>
    private let dispatchCursor = Atomic<Int>(0)

    /// The bound address (with the port the kernel chose when asked for port 0).
    public var address: SocketAddress { state.withLock { $0.address } }
    /// One entry per acceptor: a loop's registration or a blocking thread.
    public var acceptorStats: [AcceptorStats] { state.withLock { $0.acceptorStats } }
    /// The listening sockets (one, or one per loop for `reuseport`).
    package var listeningFDs: [CInt] { state.withLock { $0.listeningFDs } }

    /// A listener whose connections each get a handler from `handler` (the callback API).
    public init(
        group: EventLoopGroup, address: SocketAddress, strategy: AcceptStrategy,
        options: ListenerOptions = ListenerOptions(), handler: @escaping HandlerFactory
    ) {
        self.group = group
        self.requestedAddress = address
        self.strategy = strategy
        self.options = options
        self.makeHandler = handler
        self.accepted = nil
        self.state = Locked(State(address: address))
    }

    /// A listener for the async API: serve it with `run { connection in … }`.
    public init(
        group: EventLoopGroup, address: SocketAddress, strategy: AcceptStrategy = .reuseport,
        options: ListenerOptions = ListenerOptions()
    ) {
        let accepted = AcceptedConnections()
        self.group = group
        self.requestedAddress = address
        self.strategy = strategy
        self.options = options
        self.accepted = accepted
        self.makeHandler = { loop in
            AsyncConnectionState(loop: loop) { result in
                guard case .success(let connection) = result else { return }
                if !accepted.push(connection) { connection.state.connection?.close(reason: .closed) }
            }
        }
        self.state = Locked(State(address: address))
    }

    /// Binds, listens and attaches the acceptors. Returns the bound address.
    @discardableResult
    public func start() throws(SystemError) -> SocketAddress {
        try state.withLock { (state) throws(SystemError) -> SocketAddress in
            precondition(!state.started, "a listener starts once")
            state.started = true
            do throws(SystemError) {
                try open(&state)
            } catch {
                for fd in state.listeningFDs { Posix.close(fd) }
                state.listeningFDs = []
                throw error
            }
            return state.address
        }
    }

    /// True once `start()` has been called (and until `stop()`).
    public var isStarted: Bool { state.withLock { $0.started } }

    private func open(_ state: inout State) throws(SystemError) {
        let loops = group.loops
        if let inherited = options.inheritedDescriptors {
            let wanted = strategy.kind == .reuseport ? loops.count : 1
            guard inherited.count == wanted, strategy.kind != .blocking else {
                // The blocking strategy stops its threads with shutdown(2), which would also
                // stop the sockets for the server they were handed to.
                for fd in inherited { Posix.close(fd) }
                throw SystemError("inherit listening sockets (\(inherited.count) given, \(wanted) needed)",
                                  errno: .invalidArgument)
            }
        }
        switch strategy.kind {
        case .reuseport:
            for loop in loops {
                let fd = try makeListeningSocket(reusePort: true, blocking: false, &state)
                state.listeningFDs.append(fd)
                attach(fd: fd, to: loop, exclusive: false, dispatch: false, &state)
            }
        case .shared, .exclusive:
            let fd = try makeListeningSocket(reusePort: false, blocking: false, &state)
            state.listeningFDs.append(fd)
            for loop in loops { attach(fd: fd, to: loop, exclusive: strategy.kind == .exclusive, dispatch: false, &state) }
        case .dispatch:
            let fd = try makeListeningSocket(reusePort: false, blocking: false, &state)
            state.listeningFDs.append(fd)
            attach(fd: fd, to: loops[0], exclusive: false, dispatch: true, &state)
        case .blocking:
            let fd = try makeListeningSocket(reusePort: false, blocking: true, &state)
            state.listeningFDs.append(fd)
            let count = options.blockingThreads ?? loops.count
            for i in 0..<count {
                let stats = AcceptorStats(name: "thread-\(i)")
                state.acceptorStats.append(stats)
                let target = loops[i % loops.count]
                let thread = try Threads.spawn(name: "corral-accept-\(i)") { [self] in
                    self.blockingAcceptLoop(fd: fd, stats: stats, target: target)
                }
                state.blockingThreads.append(thread)
            }
        }
    }

    /// socket → SO_REUSEADDR (and SO_REUSEPORT) → bind → listen.
    ///
    /// A port another socket listens on must be an error (EADDRINUSE) whatever the strategy,
    /// yet SO_REUSEPORT exists to let several sockets bind one port: set before bind(2) on the
    /// first socket of a `reuseport` group, it would let this listener silently join a group
    /// another process (same user) already listens with, and take half its connections. So
    /// the first socket binds *without* SO_REUSEPORT: bind(2) then fails with EADDRINUSE if any
    /// socket, reuseport or not, holds the address. Only after its bind succeeded does it get
    /// SO_REUSEPORT (the kernel checks the flag of sockets already bound when a later one binds,
    /// and forms the group at listen(2)), so this group's other sockets can join it. There is
    /// no window for another server to slip in first: the address is ours from the first bind.
    /// (A later process that sets SO_REUSEPORT before its own bind can still join, as the
    /// option intends; another Corral server cannot, because its first bind goes without it.)
    /// The first bind of port 0 fixes the port the other sockets then join.
    /// Only `inheritedDescriptors` (a hand-over) joins sockets that exist already.
    private func makeListeningSocket(reusePort: Bool, blocking: Bool, _ state: inout State) throws(SystemError) -> CInt {
        if let inherited = options.inheritedDescriptors {
            let fd = inherited[state.listeningFDs.count]
            try Posix.fcntlSetFlags(fd, try Posix.fcntlGetFlags(fd) | O_NONBLOCK)
            state.address = try Posix.getsockname(fd)
            if isTCP {
                try options.connectionOptions.apply(to: fd, isTCP: true)
                try setDeferAccept(fd)
            }
            return fd
        }
        let fd = try Posix.socket(domain: requestedAddress.family, type: ccorral_SOCK_STREAM, blocking: blocking)
        do {
            let joinsGroup = reusePort && !state.listeningFDs.isEmpty
            if case .unix(let path) = requestedAddress {
                try Posix.unlink(path)  // a stale socket file from an earlier run would make bind fail
            } else {
                try Posix.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, CInt(1))
                if joinsGroup { try Posix.setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, CInt(1)) }
                // Inherited by every socket accept(2) returns (see SocketOptions.apply).
                try options.connectionOptions.apply(to: fd, isTCP: true)
                try setDeferAccept(fd)
            }
            try Posix.bind(fd, state.address)
            if reusePort && !joinsGroup { try Posix.setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, CInt(1)) }
            try Posix.listen(fd, backlog: options.backlog)
            if case .unix = requestedAddress {} else { state.address = try Posix.getsockname(fd) }
        } catch {
            Posix.close(fd)
            throw error
        }
        return fd
    }

    /// TCP_DEFER_ACCEPT as `options.deferAcceptSeconds` says (0 turns it off on an inherited socket).
    private func setDeferAccept(_ fd: CInt) throws(SystemError) {
        try Posix.setsockopt(fd, CInt(IPPROTO_TCP), TCP_DEFER_ACCEPT, CInt(options.deferAcceptSeconds ?? 0))
    }

    private func attach(fd: CInt, to loop: EventLoop, exclusive: Bool, dispatch: Bool, _ state: inout State) {
        let stats = AcceptorStats(name: "loop-\(loop.index)")
        state.acceptorStats.append(stats)
        let acceptor = PolledAcceptor(
            fd: fd, ownsFD: strategy.kind == .reuseport, exclusive: exclusive, stats: stats, listener: self,
            dispatch: dispatch, readinessOnly: strategy.kind == .shared)
        let bound = LoopBound(acceptor, loop: loop)
        state.acceptors.append(bound)
        loop.execute { bound.value.register(on: loop) }
    }

    // MARK: handing connections to loops

    private var isTCP: Bool { requestedAddress.family != AF_UNIX }
    /// With TCP_DEFER_ACCEPT an accepted connection almost always has input waiting.
    private var readsAtOnce: Bool { isTCP && (options.deferAcceptSeconds ?? 0) > 0 }

    /// Adopts an accepted descriptor on `loop` (called on that loop's thread).
    func adopt(_ descriptor: consuming OwnedDescriptor, on loop: EventLoop) {
        Connection.adopt(
            descriptor, on: loop, options: isTCP ? nil : options.connectionOptions, isTCP: isTCP,
            readAtOnce: readsAtOnce, handler: makeHandler(loop))
    }

    /// The loop the `dispatch` strategy gives the next connection to.
    func dispatchTarget() -> EventLoop {
        let loops = group.loops
        switch strategy.kind {
        case .dispatch(.fewestConnections):
            // Scan from a rotating start so that ties (e.g. all idle) are broken round-robin.
            let start = dispatchCursor.add(1, ordering: .relaxed).oldValue
            var best = loops[start % loops.count]
            for offset in 1..<loops.count {
                let loop = loops[(start + offset) % loops.count]
                if loop.stats.openConnections < best.stats.openConnections { best = loop }
            }
            return best
        default:
            return loops[dispatchCursor.add(1, ordering: .relaxed).oldValue % loops.count]
        }
    }

    /// Hands an accepted connection to `target`, directly when already on its thread. If the
    /// target has shut down, the connection is closed rather than leaked.
    func handOff(_ descriptor: consuming OwnedDescriptor, to target: EventLoop) {
        if target.inLoop {
            adopt(descriptor, on: target)
            return
        }
        let raw = descriptor.take()  // owned by the task below, or closed here if it never runs
        let accepted = target.submitUnlessFinished { [self] in self.adopt(OwnedDescriptor(adopting: raw), on: target) }
        if !accepted { Posix.close(raw) }
    }

    // MARK: the blocking strategy

    private func blockingAcceptLoop(fd: CInt, stats: AcceptorStats, target: EventLoop) {
        var spare = try? Posix.openReadOnly("/dev/null")
        while true {
            let result: IOResult<CInt>
            do {
                result = try Posix.accept4(fd)
            } catch {
                stats.wokeUp()
                switch error.errno {
                case .tooManyOpenFiles, .tooManyOpenFilesInSystem:
                    // No descriptor for the connection. A blocking thread cannot wait for epoll,
                    // so it frees the spare descriptor, accepts the connection and closes it (the
                    // client sees a clean close instead of hanging), then takes the spare back.
                    // Without the spare, accept would fail again at once and the thread would spin.
                    stats.failed()
                    stats.paused()
                    options.logger.error("accept: out of descriptors, shedding a connection", metadata: ["acceptor": "\(stats.name)"])
                    if let held = spare { Posix.close(held) }
                    if case .processed(let victim)? = try? Posix.accept4(fd) { Posix.close(victim) }
                    spare = try? Posix.openReadOnly("/dev/null")
                case .invalidArgument:
                    // EINVAL after shutdown(2) in stop(): the listener is closing.
                    if let held = spare { Posix.close(held) }
                    stats.wakeEnded()
                    return
                default:
                    // ECONNABORTED, EPROTO, EPERM and the network errors of one pending connection
                    // (accept(2): "treat them like EAGAIN").
                    stats.failed()
                }
                stats.wakeEnded()
                continue
            }
            stats.wokeUp()
            if case .processed(let connection) = result {
                stats.acceptedOne()
                handOff(OwnedDescriptor(adopting: connection), to: target)
            } else {
                stats.failed()  // EAGAIN on a blocking socket: a spurious wake-up
            }
            stats.wakeEnded()
        }
    }

    // MARK: handing over

    /// Duplicates of the listening sockets (close-on-exec), to hand to a new server process
    /// over a UNIX socket (SCM_RIGHTS) for a restart that loses no connection: the new server
    /// starts accepting on the same sockets, then this one stops and drains.
    public func duplicateListeningDescriptors() throws(SystemError) -> [CInt] {
        guard strategy.kind != .blocking else {
            throw SystemError("hand over listening sockets (not with the blocking strategy)", errno: .notSupported)
        }
        let originals = state.withLock { state in
            state.handedOver = true
            return state.listeningFDs
        }
        var copies: [CInt] = []
        for fd in originals {
            do {
                copies.append(try Posix.duplicate(fd))
            } catch {
                for copy in copies { Posix.close(copy) }
                throw error
            }
        }
        return copies
    }

    /// Removes a UNIX listener's socket file now, and not again at `stop()`: the path may be
    /// bound by someone else in between (a successor taking over a hand-over socket).
    public func releaseSocketPath() {
        guard case .unix(let path) = requestedAddress else { return }
        let release = state.withLock { state in
            defer { state.handedOver = true }
            return !state.handedOver
        }
        if release { try? Posix.unlink(path) }
    }

    // MARK: stopping

    /// Stops accepting and closes the listening sockets; open connections are untouched.
    /// Safe from any thread except a loop's own (it waits for the loops to let go of their
    /// acceptors); returns when no acceptor is left.
    public func stop() {
        guard let taken = takeForStop() else { return }
        let takeBacklog = !taken.handedOver
        for acceptor in taken.acceptors {
            guard let done = try? OneShotSignal() else { continue }
            // A loop that has shut down already closed its acceptor (loopIsClosing).
            let willRun = acceptor.loop.submitUnlessFinished {
                if takeBacklog { acceptor.value.acceptBacklog() }
                acceptor.value.close()
                done.signal()
            }
            if willRun { done.wait() }
        }
        if let accepted {
            // Connections handed to other loops (dispatch, blocking) reach `accepted` when those
            // loops run their queued work: one more task on each loop waits for that.
            for loop in group.loops {
                guard let done = try? OneShotSignal() else { continue }
                if loop.submitUnlessFinished({ done.signal() }) { done.wait() }
            }
            accepted.finish()
        }
        finishStop(taken)
    }

    /// `stop()` for async code: awaits the loops instead of blocking a thread, so it is safe
    /// from a task running on one of the listener's loops too.
    public func stop() async {
        guard let taken = takeForStop() else { return }
        let takeBacklog = !taken.handedOver
        for acceptor in taken.acceptors {
            _ = try? await acceptor.loop.submit {
                if takeBacklog { acceptor.value.acceptBacklog() }
                acceptor.value.close()
            }
        }
        if let accepted {
            for loop in group.loops { _ = try? await loop.submit {} }  // see stop()
            accepted.finish()
        }
        finishStop(taken)
    }

    /// Marks the listener stopped and takes what stopping must release. Connections the kernel
    /// has completed but nobody accepted yet would be reset when the listening socket closes:
    /// the acceptors take them first (they are served like any other) unless the sockets were
    /// handed over, in which case the successor accepts them.
    private func takeForStop() -> State? {
        state.withLock { state -> State? in
            guard state.started else { return nil }
            let taken = state
            state.started = false
            state.acceptors = []
            state.blockingThreads = []
            state.listeningFDs = []
            return taken
        }
    }

    private func finishStop(_ taken: State) {
        if case .blocking = strategy.kind {
            // shutdown(2) on a listening socket wakes every thread blocked in accept(2) with EINVAL.
            for fd in taken.listeningFDs { try? Posix.shutdown(fd, how: CInt(SHUT_RDWR)) }
            for thread in taken.blockingThreads { Threads.join(thread) }
        }
        if strategy.kind != .reuseport {
            for fd in taken.listeningFDs { Posix.close(fd) }
        }
        // The socket file now belongs to the server the sockets were handed to.
        if case .unix(let path) = requestedAddress, !taken.handedOver { try? Posix.unlink(path) }
    }

    deinit { stop() }
}

/// A listening socket registered in one loop: accepts on readiness (epoll) or with a multishot
/// accept (uring), and pauses, rather than spins, when the process runs out of descriptors.
/// Loop-bound (reaches its loop in a `LoopBound`).
final class PolledAcceptor: Selectable {
    let fd: CInt
    private let ownsFD: Bool
    private let exclusive: Bool
    let stats: AcceptorStats
    private unowned let listener: Listener
    private let dispatch: Bool
    /// The `shared` strategy keeps its thundering herd on io_uring too: every loop polls the
    /// socket and calls accept4(2) (a multishot accept would wake one loop, as io_uring's
    /// accept waits exclusively).
    private let readinessOnly: Bool
    private var loop: EventLoop?
    private var token: RegistrationToken?
    /// The request armed for `token` on uring: the multishot accept, or the readiness poll.
    private var armed = RingOperation.poll
    private var backoff: UInt64 = 0
    /// Connections the last whole batch found before EAGAIN (or the limit): more than one means
    /// connections arrive in bursts, and each wake-up takes a whole batch.
    private var lastBatch = Int.max
    private var singleAccepts = 0
    private var resumeTimer: TimerHandle?
    private var closed = false

    init(
        fd: CInt, ownsFD: Bool, exclusive: Bool, stats: AcceptorStats, listener: Listener, dispatch: Bool,
        readinessOnly: Bool
    ) {
        self.fd = fd
        self.ownsFD = ownsFD
        self.exclusive = exclusive
        self.stats = stats
        self.listener = listener
        self.dispatch = dispatch
        self.readinessOnly = readinessOnly
    }

    func register(on loop: EventLoop) {
        guard !closed else { return }
        self.loop = loop
        if let ring = loop.ring, !readinessOnly {
            let token = loop.registerForCompletions(self)
            self.token = token
            armed = .accept
            do {
                try ring.accept(fd: fd, token: token)
            } catch {
                stats.failed()
                loop.forget(token)
                self.token = nil
            }
            return
        }
        let interest = Epoll.readable | (exclusive ? Epoll.exclusive : 0)
        armed = .poll
        do {
            token = try loop.register(self, fd: fd, interest: interest)
        } catch {
            stats.failed()
        }
    }

    func handle(events: UInt32) {
        guard let loop, !closed else { return }
        stats.wokeUp()
        defer { stats.wakeEnded() }
        let options = listener.options
        var limit = options.maxAcceptsPerWakeUp
        if lastBatch <= 1 {
            singleAccepts += 1
            if singleAccepts < options.acceptProbeInterval { limit = 1 } else { singleAccepts = 0 }
        }
        var accepted = 0
        defer { if limit > 1 { lastBatch = accepted } }
        for attempt in 0..<limit {
            let result: IOResult<CInt>
            do {
                result = try Posix.accept4(fd)
            } catch {
                if handleAcceptError(error) { continue }
                return
            }
            guard case .processed(let connectionFD) = result else {
                if attempt == 0 { stats.foundNothing() }
                return
            }
            accepted += 1
            stats.acceptedOne()
            backoff = 0
            listener.handOff(OwnedDescriptor(adopting: connectionFD), to: dispatch ? listener.dispatchTarget() : loop)
        }
    }

    /// uring: a connection from the multishot accept (or its error).
    func complete(_ operation: RingOperation, result: Int32, flags: UInt32, bytes: UnsafeRawBufferPointer) {
        guard operation == .accept, let loop, let token, !closed, result != -ECANCELED else { return }
        stats.wokeUp()
        defer { stats.wakeEnded() }
        if result >= 0 {
            stats.acceptedOne()
            backoff = 0
            listener.handOff(OwnedDescriptor(adopting: result), to: dispatch ? listener.dispatchTarget() : loop)
        } else if !handleAcceptError(SystemError("accept4", errno: Errno(rawValue: -result))) {
            return  // paused: the back-off timer accepts again
        }
        if flags & CompletionRing.moreFlag == 0, let ring = loop.ring, self.token == token {
            // The kernel ended the multishot accept (after an error): accept again.
            do {
                try ring.accept(fd: fd, token: token)
            } catch {
                stats.failed()
            }
        }
    }

    /// Accepts every connection waiting in the backlog (at most `limit`), before the
    /// listening socket closes.
    func acceptBacklog(limit: Int = 65_536) {
        guard let loop, !closed else { return }
        for _ in 0..<limit {
            guard case .processed(let connectionFD)? = try? Posix.accept4(fd) else { return }
            stats.acceptedOne()
            listener.handOff(OwnedDescriptor(adopting: connectionFD), to: dispatch ? listener.dispatchTarget() : loop)
        }
    }

    /// True to keep accepting, false to stop for this wake-up.
    private func handleAcceptError(_ error: SystemError) -> Bool {
        stats.failed()
        switch error.errno {
        case .tooManyOpenFiles, .tooManyOpenFilesInSystem, .noBufferSpace, .noMemory:
            pause()
            return false
        default:
            // ECONNABORTED and the network errors accept(2) passes on from one pending
            // connection: skip it and go on.
            return true
        }
    }

    /// Out of descriptors: the listener stays readable, so a level-triggered registration would
    /// wake the loop at once, forever. Deregister, and come back after a back-off.
    /// (EPOLLEXCLUSIVE registrations cannot be modified, only deleted and re-added.)
    private func pause() {
        guard let loop, let token else { return }
        stats.paused()
        loop.deregister(token, fd: fd, armed: armed)
        self.token = nil
        let options = listener.options
        backoff = backoff == 0 ? options.exhaustionBackoffNanoseconds : min(backoff * 2, options.exhaustionBackoffMaxNanoseconds)
        options.logger.error(
            "accept4: out of descriptors, accepting paused", metadata: ["acceptor": "\(stats.name)", "retry_ms": "\(backoff / 1_000_000)"])
        resumeTimer = loop.schedule(afterNanoseconds: backoff) { [weak self] in
            guard let self, let loop = self.loop else { return }
            self.resumeTimer = nil
            self.register(on: loop)
        }
    }

    func loopIsClosing() { close() }

    func close() {
        guard !closed else { return }
        closed = true
        resumeTimer?.cancel()
        if let loop, let token {
            loop.deregister(token, fd: fd, armed: armed)
        }
        token = nil
        if ownsFD { Posix.close(fd) }
    }
}
