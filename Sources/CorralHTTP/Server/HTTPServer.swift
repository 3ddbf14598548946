import CoreMetrics
import CorralRuntime
import Logging
import Prometheus

/// An HTTP/1.1 server: an event-loop group, a listener, and per loop a `LoopContext` with the
/// loop's connections, and the router's routes and file caches.
///
/// Without a router it serves `configuration.root` as static files (what `corral serve` does);
/// with one, the router's routes, handlers and mounts (see `Router`). `start()` returns once it
/// listens; `stop()` drains and stops. As a swift-service-lifecycle `Service`, `run()` does both,
/// stopping on graceful shutdown.
public final class HTTPServer: Sendable {
    public let configuration: HTTPServerConfiguration
    /// What answers requests.
    public let router: Router
    public let stats = ServerStats()
    /// The metrics listener's own counters (its connection cap), apart from the site's.
    private let metricsStats = ServerStats()
    private let state = Locked<Running?>(nil)
    private let metricsBoundAddress = Locked<SocketAddress?>(nil)
    private let handoverListener = Locked<Listener?>(nil)
    /// Kept by the server (the reporter refers back to it unowned).
    private let metricsReporter = Locked<MetricsReporter?>(nil)

    /// The backend the running server's loops use (nil before `start()`): `configuration.backend`,
    /// or epoll where io_uring was asked for and is unavailable.
    public var backend: EventLoopBackend? { state.withLock { $0?.group.backend } }

    /// The bound address of the metrics listener, if one was configured.
    public var metricsAddress: SocketAddress? { metricsBoundAddress.withLock { $0 } }

    private struct Running: @unchecked Sendable {
        let group: EventLoopGroup
        let listener: Listener
        let metricsListener: Listener?
        let contexts: [LoopContext]
        /// Per loop, the file caches of the router's mounts.
        let files: [[StaticFiles]]
        /// Per mount, its open root directory.
        var rootFDs: [CInt]
        let accessLog: LogWriter?
        let logRelay: LogRelay?
    }

    /// A server for `router`; nil: `configuration.root` as static files at `/`.
    public init(configuration: HTTPServerConfiguration, router: Router? = nil) {
        self.configuration = configuration
        self.router = router ?? Router.site(root: configuration.root)
    }

    /// Opens the mounts' roots, starts the loops and listens. Returns the bound address.
    @discardableResult
    public func start() throws -> SocketAddress {
        let configuration = self.configuration
        let router = self.router
        var rootFDs: [CInt] = []
        do {
            for mount in router.mounts { rootFDs.append(try Self.openRoot(mount.root)) }
        } catch {
            for fd in rootFDs { Posix.close(fd) }
            throw error
        }
        var accessLog: LogWriter?
        var logRelay: LogRelay?
        var group: EventLoopGroup?
        var listener: Listener?
        var metricsListener: Listener?
        var contexts: [LoopContext] = []
        func cleanUp() {
            listener?.stop()
            metricsListener?.stop()
            group?.shutdown()
            accessLog?.stop()
            logRelay?.stop()
            for fd in rootFDs { Posix.close(fd) }
        }
        do {
            if let log = configuration.accessLog {
                do {
                    accessLog = try LogWriter(destination: log.destination)
                } catch {
                    throw HTTPServerError("cannot open the access log \(log.destination): \(error)")
                }
            }
            // Loops never call a log handler that may block: events go through a relay thread.
            var logger = configuration.logger
            if !(logger.handler is NonBlockingLogHandler) {
                let relay = try LogRelay()
                logRelay = relay
                logger = relay.relaying(logger)
            }
            let loops = try EventLoopGroup(
                loopCount: configuration.loops, pinToCPUs: configuration.pinLoops, backend: configuration.backend,
                logger: logger)
            group = loops
            try loops.start()
            let limits = Self.fileCacheLimits(configuration, loops: loops.loops.count, mounts: rootFDs.count)
            var files: [[StaticFiles]] = []
            var siteEndpoints: [LoopEndpoint] = []
            var metricsEndpoints: [LoopEndpoint] = []
            let (reporter, registry) = makeMetricsReporter()
            for loop in loops.loops {
                let context = LoopContext(loop: loop, configuration: configuration, accessLog: accessLog,
                                          logger: logger)
                let stores = rootFDs.map {
                    StaticFiles(loop: loop, files: FileStore(rootFD: $0, limits: limits), logger: logger)
                }
                let responder: any HTTPResponder = router.isSingleRootMount
                    ? stores[0]
                    : RouterResponder(router: router, mounts: stores,
                                      services: LoopServices(loop: loop, logger: logger))
                let site = LoopEndpoint(responder: responder, stats: stats, maxConnections: configuration.maxConnections)
                context.add(site)
                if loop.index == 0, let reporter { context.everySecond = { reporter.update() } }
                if let reporter, let registry {
                    let metrics = LoopEndpoint(responder: MetricsResponder(reporter: reporter, registry: registry),
                                               stats: metricsStats,
                                               maxConnections: configuration.metricsMaxConnections)
                    context.add(metrics)
                    metricsEndpoints.append(metrics)
                }
                contexts.append(context)
                files.append(stores)
                siteEndpoints.append(site)
                let box = UncheckedBox(context)
                loop.execute { box.value.start() }
            }
            var options = ListenerOptions()
            options.connectionOptions.noDelay = true
            options.deferAcceptSeconds = configuration.deferAcceptSeconds
            options.inheritedDescriptors = configuration.inheritedDescriptors
            let handlers = UncheckedBox((contexts, siteEndpoints, metricsEndpoints))
            let main = Listener(group: loops, address: configuration.address, strategy: configuration.acceptStrategy,
                                options: options) { loop in
                HTTPConnectionHandler(context: handlers.value.0[loop.index], endpoint: handlers.value.1[loop.index])
            }
            listener = main
            let address: SocketAddress
            do {
                address = try main.start()
            } catch {
                throw HTTPServerError("cannot listen on \(configuration.address): \(error)")
            }
            if let metricsAddress = configuration.metricsAddress {
                let admin = Listener(group: loops, address: metricsAddress, strategy: .dispatch) { loop in
                    HTTPConnectionHandler(context: handlers.value.0[loop.index], endpoint: handlers.value.2[loop.index])
                }
                metricsListener = admin
                do {
                    let bound = try admin.start()
                    metricsBoundAddress.withLock { $0 = bound }
                } catch {
                    throw HTTPServerError("cannot listen for metrics on \(metricsAddress): \(error)")
                }
            }
            state.withLock {
                $0 = Running(group: loops, listener: main, metricsListener: metricsListener, contexts: contexts,
                             files: files, rootFDs: rootFDs, accessLog: accessLog, logRelay: logRelay)
            }
            return address
        } catch {
            cleanUp()
            throw error
        }
    }

    /// Where the metrics go (see `MetricsReporter`): a Prometheus registry of the server's own
    /// when it serves /metrics (and the configured factory too, if any); else the configured
    /// factory, else the bootstrapped one; nothing if that is swift-metrics' no-op default.
    private func makeMetricsReporter() -> (MetricsReporter?, PrometheusCollectorRegistry?) {
        var factories: [any MetricsFactory] = []
        var registry: PrometheusCollectorRegistry?
        if configuration.metricsAddress != nil {
            let own = PrometheusCollectorRegistry()
            registry = own
            factories.append(PrometheusMetricsFactory(registry: own))
        }
        if let factory = configuration.metricsFactory {
            factories.append(factory)
        } else if registry == nil, !(MetricsSystem.factory is NOOPMetricsHandler) {
            factories.append(MetricsSystem.factory)
        }
        guard !factories.isEmpty else { return (nil, nil) }
        let factory = factories.count == 1 ? factories[0] : MultiplexMetricsHandler(factories: factories)
        let reporter = MetricsReporter(server: self, factory: factory)
        metricsReporter.withLock { $0 = reporter }
        return (reporter, registry)
    }

    private static func openRoot(_ path: String) throws -> CInt {
        do {
            return try Files.openDirectory(path)
        } catch {
            throw HTTPServerError("cannot open root directory '\(path)': \(error.errno)")
        }
    }

    /// Each loop's (and mount's) share of the file cache's limits.
    private static func fileCacheLimits(_ configuration: HTTPServerConfiguration, loops: Int, mounts: Int) -> FileCacheLimits {
        let descriptors = configuration.maxOpenFiles ?? {
            let soft = (try? Posix.getrlimitNoFile().rlim_cur).map { Int(clamping: $0) } ?? 1024
            return soft / 4
        }()
        var limits = FileCacheLimits(
            maxCachedFileSize: configuration.maxCachedFileSize, maxBytes: configuration.maxCacheBytesPerLoop,
            maxOpenFiles: max(descriptors, 0) / max(loops * mounts, 1))
        limits.idleNanoseconds = UInt64(max(configuration.fileCacheIdleSeconds, 0)) * 1_000_000_000
        return limits
    }

    /// Reports the metrics now instead of at the next tick (tests).
    package func reportMetrics() { metricsReporter.withLock { $0 }?.update() }

    /// Whether the server is started and not stopped.
    public var isRunning: Bool { state.withLock { $0 != nil } }

    /// The acceptors' counters (wake-ups, accepts) of the running server.
    public var acceptorStats: [AcceptorStats] { state.withLock { $0?.listener.acceptorStats ?? [] } }
    /// The loops' counters.
    public var loopStats: [EventLoopStats] { state.withLock { $0?.group.loops.map(\.stats) ?? [] } }
    /// Access-log lines, and log events, dropped because their destination could not keep up.
    public var droppedLogLines: Int {
        state.withLock { ($0?.accessLog?.droppedLines ?? 0) + ($0?.logRelay?.droppedEvents ?? 0) }
    }

    /// The memory each open connection holds for its own buffers (`Connection.bufferedMemory`),
    /// gathered from the loops: what the README's worst case per connection is checked against.
    package func connectionMemory() -> [Int] {
        guard let contexts = state.withLock({ $0?.contexts }) else { return [] }
        let gathered = Locked<[Int]>([])
        for context in contexts {
            guard let done = try? OneShotSignal() else { continue }
            let box = UncheckedBox(context)
            if context.loop.submitUnlessFinished({
                let sizes = box.value.endpoints.flatMap { $0.connections.map(\.bufferedMemory) }
                gathered.withLock { $0 += sizes }
                done.signal()
            }) {
                done.wait()
            }
        }
        return gathered.withLock { $0 }
    }

    /// What SIGHUP does: opens each mount's root path again (a deploy that switched a symlink is
    /// served from now on), empties every loop's file caches, and reopens the access log (after a
    /// rotation). Requests in flight finish from the files they started with; none is dropped.
    /// Call it from any thread but a loop's. If a root cannot be opened, the old roots all stay
    /// and the error is thrown.
    public func reload() throws {
        guard let running = state.withLock({ $0 }) else { throw HTTPServerError("server not running") }
        var fresh: [CInt] = []
        do {
            for mount in router.mounts { fresh.append(try Self.openRoot(mount.root)) }
        } catch {
            for fd in fresh { Posix.close(fd) }
            running.accessLog?.reopen()
            throw error
        }
        let roots = fresh
        for (context, files) in zip(running.contexts, running.files) {
            guard let done = try? OneShotSignal() else { continue }
            let box = UncheckedBox((context, files))
            if context.loop.submitUnlessFinished({
                box.value.0.accessLog?.handOver()  // lines of responses sent so far: to the old file
                for (store, root) in zip(box.value.1, roots) { store.files.replaceRoot(root) }
                done.signal()
            }) {
                done.wait()
            }
        }
        running.accessLog?.reopen()
        let old = state.withLock { current -> [CInt]? in
            guard current != nil else { return nil }
            defer { current?.rootFDs = fresh }
            return current?.rootFDs
        }
        for fd in old ?? fresh { Posix.close(fd) }
        configuration.logger.info("reloaded", metadata: ["roots": "\(router.mounts.map(\.root))"])
    }

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
    /// response (with `Connection: close`); whatever is still open after `drainSeconds` is
    /// closed by the loops' shutdown. The access log is written out before this returns.
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
        running.accessLog?.stop()
        running.logRelay?.stop()
        for fd in running.rootFDs { Posix.close(fd) }
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
