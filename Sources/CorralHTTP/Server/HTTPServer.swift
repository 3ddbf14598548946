import CorralRuntime
import Logging
import Synchronization

/// The static-file server: an event-loop group, a listener, and per loop a `LoopContext`
/// with the loop's file cache and connections.
public final class HTTPServer: Sendable {
    public let configuration: HTTPServerConfiguration
    public let stats = ServerStats()
    /// The metrics listener's own counters (its connection cap), apart from the site's.
    private let metricsStats = ServerStats()
    private let state = Mutex<Running?>(nil)
    private let metricsBoundAddress = Mutex<SocketAddress?>(nil)
    private let handoverListener = Mutex<Listener?>(nil)

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
        let files: [StaticFiles]
        var rootFD: CInt
        let accessLog: LogWriter?
    }

    public init(configuration: HTTPServerConfiguration) {
        self.configuration = configuration
    }

    /// Opens the root, starts the loops and listens. Returns the bound address.
    @discardableResult
    public func start() throws -> SocketAddress {
        let configuration = self.configuration
        let rootFD = try Self.openRoot(configuration.root)
        var accessLog: LogWriter?
        var group: EventLoopGroup?
        var listener: Listener?
        var metricsListener: Listener?
        var contexts: [LoopContext] = []
        func cleanUp() {
            listener?.stop()
            metricsListener?.stop()
            group?.shutdown()
            accessLog?.stop()
            Posix.close(rootFD)
        }
        do {
            if let log = configuration.accessLog {
                do {
                    accessLog = try LogWriter(destination: log.destination)
                } catch {
                    throw HTTPServerError("cannot open the access log \(log.destination): \(error)")
                }
            }
            let loops = try EventLoopGroup(
                loopCount: configuration.loops, pinToCPUs: configuration.pinLoops, backend: configuration.backend,
                logger: configuration.logger)
            group = loops
            try loops.start()
            let limits = Self.fileCacheLimits(configuration, loops: loops.loops.count)
            var files: [StaticFiles] = []
            var siteEndpoints: [LoopEndpoint] = []
            var metricsEndpoints: [LoopEndpoint] = []
            let exporter = configuration.metricsAddress.map { _ in MetricsExporter(server: self) }
            for loop in loops.loops {
                let context = LoopContext(loop: loop, configuration: configuration, accessLog: accessLog,
                                          logger: configuration.logger)
                let store = StaticFiles(loop: loop, files: FileStore(rootFD: rootFD, limits: limits),
                                        logger: configuration.logger)
                let site = LoopEndpoint(responder: store, stats: stats, maxConnections: configuration.maxConnections)
                context.add(site)
                if let exporter {
                    let metrics = LoopEndpoint(responder: MetricsResponder(exporter: exporter), stats: metricsStats,
                                               maxConnections: configuration.metricsMaxConnections)
                    context.add(metrics)
                    metricsEndpoints.append(metrics)
                }
                contexts.append(context)
                files.append(store)
                siteEndpoints.append(site)
                let box = UncheckedBox(context)
                loop.execute { box.value.start() }
            }
            var options = ListenerOptions()
            options.connectionOptions.noDelay = true
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
                             files: files, rootFD: rootFD, accessLog: accessLog)
            }
            return address
        } catch {
            cleanUp()
            throw error
        }
    }

    private static func openRoot(_ path: String) throws -> CInt {
        do {
            return try Files.openDirectory(path)
        } catch {
            throw HTTPServerError("cannot open root directory '\(path)': \(error.errno)")
        }
    }

    /// Each loop's share of the file cache's limits.
    private static func fileCacheLimits(_ configuration: HTTPServerConfiguration, loops: Int) -> FileCacheLimits {
        let descriptors = configuration.maxOpenFiles ?? {
            let soft = (try? Posix.getrlimitNoFile().rlim_cur).map { Int(clamping: $0) } ?? 1024
            return soft / 4
        }()
        var limits = FileCacheLimits(
            maxCachedFileSize: configuration.maxCachedFileSize, maxBytes: configuration.maxCacheBytesPerLoop,
            maxOpenFiles: max(descriptors, 0) / max(loops, 1))
        limits.idleNanoseconds = UInt64(max(configuration.fileCacheIdleSeconds, 0)) * 1_000_000_000
        return limits
    }

    /// The acceptors' counters (wake-ups, accepts) of the running server.
    public var acceptorStats: [AcceptorStats] { state.withLock { $0?.listener.acceptorStats ?? [] } }
    /// The loops' counters.
    public var loopStats: [EventLoopStats] { state.withLock { $0?.group.loops.map(\.stats) ?? [] } }
    /// Access-log lines dropped because the destination could not keep up.
    public var droppedLogLines: Int { state.withLock { $0?.accessLog?.droppedLines ?? 0 } }

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

    /// What SIGHUP does: opens the root path again (a deploy that switched a symlink is served
    /// from now on), empties every loop's file cache, and reopens the access log (after a
    /// rotation). Requests in flight finish from the files they started with; none is dropped.
    /// Call it from any thread but a loop's. If the root cannot be opened, the old one stays
    /// and the error is thrown.
    public func reload() throws {
        guard let running = state.withLock({ $0 }) else { throw HTTPServerError("server not running") }
        let fresh: CInt
        do {
            fresh = try Self.openRoot(configuration.root)
        } catch {
            running.accessLog?.reopen()
            throw error
        }
        for (context, files) in zip(running.contexts, running.files) {
            guard let done = try? OneShotSignal() else { continue }
            let box = UncheckedBox((context, files))
            if context.loop.submitUnlessFinished({
                box.value.0.accessLog?.handOver()  // lines of responses sent so far: to the old file
                box.value.1.files.replaceRoot(fresh)
                done.signal()
            }) {
                done.wait()
            }
        }
        running.accessLog?.reopen()
        let old = state.withLock { current -> CInt? in
            guard current != nil else { return nil }
            defer { current?.rootFD = fresh }
            return current?.rootFD
        }
        Posix.close(old ?? fresh)
        configuration.logger.info("reloaded", metadata: ["root": "\(configuration.root)"])
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
