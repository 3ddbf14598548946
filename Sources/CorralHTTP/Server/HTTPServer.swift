import CorralRuntime
import Synchronization

/// The static-file server: an event-loop group, a listener, and per loop a `LoopContext`.
public final class HTTPServer: Sendable {
    public let configuration: HTTPServerConfiguration
    public let stats = ServerStats()
    private let state = Mutex<Running?>(nil)
    private let metricsBoundAddress = Mutex<SocketAddress?>(nil)
    private let handoverListener = Mutex<Listener?>(nil)

    /// The bound address of the metrics listener, if one was configured.
    public var metricsAddress: SocketAddress? { metricsBoundAddress.withLock { $0 } }

    private struct Running: @unchecked Sendable {
        let group: EventLoopGroup
        let listener: Listener
        let metricsListener: Listener?
        let contexts: [LoopContext]
        let rootFD: CInt
    }

    public init(configuration: HTTPServerConfiguration) {
        self.configuration = configuration
    }

    /// Opens the root, starts the loops and listens. Returns the bound address.
    @discardableResult
    public func start() throws -> SocketAddress {
        let configuration = self.configuration
        let rootFD: CInt
        do {
            rootFD = try Files.openDirectory(configuration.root)
        } catch {
            throw HTTPServerError("cannot open root directory '\(configuration.root)': \(error.errno)")
        }
        let group: EventLoopGroup
        do {
            group = try EventLoopGroup(loopCount: configuration.loops, pinToCPUs: configuration.pinLoops)
            try group.start()
        } catch {
            Posix.close(rootFD)
            throw error
        }
        let stats = self.stats
        let contexts = group.loops.map { LoopContext(loop: $0, rootFD: rootFD, configuration: configuration, stats: stats) }
        for context in contexts {
            let box = UncheckedBox(context)
            context.loop.execute { box.value.start() }
        }
        let byLoop = UncheckedBox(contexts)
        var options = ListenerOptions()
        options.connectionOptions.noDelay = true
        options.inheritedDescriptors = configuration.inheritedDescriptors
        let listener = Listener(group: group, address: configuration.address, strategy: configuration.acceptStrategy,
                                options: options) { loop in
            HTTPConnectionHandler(context: byLoop.value[loop.index])
        }
        let address: SocketAddress
        do {
            address = try listener.start()
        } catch {
            group.shutdown()
            Posix.close(rootFD)
            throw HTTPServerError("cannot listen on \(configuration.address): \(error)")
        }
        var metricsListener: Listener?
        if let metricsAddress = configuration.metricsAddress {
            let exporter = MetricsExporter(server: self)
            let admin = Listener(group: group, address: metricsAddress, strategy: .dispatch) { _ in
                MetricsHandler(exporter: exporter)
            }
            do {
                let bound = try admin.start()
                metricsListener = admin
                self.metricsBoundAddress.withLock { $0 = bound }
            } catch {
                listener.stop()
                group.shutdown()
                Posix.close(rootFD)
                throw HTTPServerError("cannot listen for metrics on \(metricsAddress): \(error)")
            }
        }
        state.withLock {
            $0 = Running(group: group, listener: listener, metricsListener: metricsListener, contexts: contexts, rootFD: rootFD)
        }
        return address
    }

    /// The acceptors' counters (wake-ups, accepts) of the running server.
    public var acceptorStats: [AcceptorStats] { state.withLock { $0?.listener.acceptorStats ?? [] } }
    /// The loops' counters.
    public var loopStats: [EventLoopStats] { state.withLock { $0?.group.loops.map(\.stats) ?? [] } }

    /// Offers the listening sockets to a successor at the UNIX socket `path` (see `Handover`);
    /// `whenTakenOver` runs (on a loop thread) once the successor accepts on them.
    public func offerHandover(at path: String, whenTakenOver: @escaping @Sendable () -> Void) throws {
        guard let group = state.withLock({ $0?.group }) else { throw HTTPServerError("server not running") }
        let offer = Listener(group: group, address: .unix(path: path), strategy: .dispatch) { [self] _ in
            HandoverOfferHandler(server: self, whenTakenOver: whenTakenOver)
        }
        do {
            try offer.start()
        } catch {
            throw HTTPServerError("cannot offer hand-over at \(path): \(error)")
        }
        handoverListener.withLock { $0 = offer }
    }

    func duplicateListeningDescriptors() throws -> [CInt] {
        guard let listener = state.withLock({ $0?.listener }) else { throw HTTPServerError("server not running") }
        return try listener.duplicateListeningDescriptors()
    }

    /// Removes the hand-over socket file (loop thread safe); the listener itself stops in `stop()`.
    func releaseHandoverPath() {
        handoverListener.withLock { $0?.releaseSocketPath() }
    }

    /// Graceful stop: no new connections; idle ones close now, busy ones after their current
    /// response; whatever is still open after `drainSeconds` is closed by the loops' shutdown.
    public func stop(drainSeconds: Double = 10) {
        guard let running = state.withLock({ current -> Running? in
            defer { current = nil }
            return current
        }) else { return }
        let offer = handoverListener.withLock { current -> Listener? in
            defer { current = nil }
            return current
        }
        offer?.stop()
        running.listener.stop()
        running.metricsListener?.stop()
        for context in running.contexts {
            let box = UncheckedBox(context)
            context.loop.execute { box.value.drain() }
        }
        stats.waitUntilDrained(seconds: drainSeconds)
        for context in running.contexts {
            let box = UncheckedBox(context)
            _ = context.loop.submitUnlessFinished { box.value.stop() }
        }
        running.group.shutdown()
        Posix.close(running.rootFD)
    }
}

/// A failure to start, with a message for the user.
public struct HTTPServerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Hands a loop-bound object to its own loop through a Sendable closure.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
