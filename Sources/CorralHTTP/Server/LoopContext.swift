import CorralRuntime

/// What the HTTP server keeps per event loop: the file cache, the Date header, and the list of
/// connections the once-a-second tick checks for timeouts. Loop-thread only: no locks.
final class LoopContext {
    let loop: EventLoop
    let configuration: HTTPServerConfiguration
    let stats: ServerStats
    let files: FileStore
    let date = DateCache()
    private(set) var connections: [HTTPConnectionHandler] = []
    private var tick: TimerHandle?
    private(set) var draining = false

    init(loop: EventLoop, rootFD: CInt, configuration: HTTPServerConfiguration, stats: ServerStats) {
        self.loop = loop
        self.configuration = configuration
        self.stats = stats
        self.files = FileStore(
            rootFD: rootFD, maxCachedFileSize: configuration.maxCachedFileSize,
            maxCacheBytes: configuration.maxCacheBytesPerLoop)
    }

    /// Starts the 1-second tick (loop thread).
    func start() {
        scheduleTick()
    }

    private func scheduleTick() {
        tick = loop.schedule(afterNanoseconds: 1_000_000_000) { [weak self] in
            guard let self else { return }
            self.date.refresh()
            self.sweepTimeouts()
            self.scheduleTick()
        }
    }

    func stop() { tick?.cancel() }

    func add(_ handler: HTTPConnectionHandler) {
        handler.slot = connections.count
        connections.append(handler)
    }

    func remove(_ handler: HTTPConnectionHandler) {
        let slot = handler.slot
        guard slot >= 0, slot < connections.count, connections[slot] === handler else { return }
        let last = connections.removeLast()
        if slot < connections.count {
            connections[slot] = last
            last.slot = slot
        }
        handler.slot = -1
    }

    /// Closes connections whose header, keep-alive or write timeout has passed. A linear scan
    /// once a second: 10 000 connections cost microseconds, and no timer is armed per request.
    private func sweepTimeouts() {
        var expired: [HTTPConnectionHandler] = []
        for handler in connections where handler.hasTimedOut(now: loop.now, configuration: configuration) {
            expired.append(handler)
        }
        for handler in expired {
            stats.timedOut()
            handler.timeOut()
        }
    }

    /// Graceful stop: idle connections close now, busy ones after their current response.
    func drain() {
        draining = true
        for handler in connections where handler.isIdle { handler.closeIdle() }
    }
}
