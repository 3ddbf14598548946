import CorralRuntime
import DequeModule
import Logging
import Synchronization

/// Keeps event loops from ever waiting for a log handler: the server's logger hands its events to
/// this relay's thread, which calls the handler the application configured (a stream to a
/// terminal, a pipe, a network client: any of them may block). At most `maxQueued` events wait;
/// beyond that they are dropped and counted (`droppedEvents`), never queued without bound.
/// `NonBlockingLogHandler` needs no relay (it already never blocks).
final class LogRelay: Sendable {
    private struct Pending {
        var events = Deque<(handler: any LogHandler, event: LogEvent)>()
        var stopping = false
    }

    private let pending = Locked(Pending())
    private let wake: OneShotSignal
    private let finished: OneShotSignal
    private let dropped = Atomic<Int>(0)
    private let maxQueued: Int

    init(maxQueued: Int = 10_000) throws(SystemError) {
        self.maxQueued = maxQueued
        wake = try OneShotSignal()
        finished = try OneShotSignal()
        try Threads.spawn(name: "corral-log-relay", detached: true) { [self] in run() }
    }

    /// Events dropped because the handler could not keep up.
    var droppedEvents: Int { dropped.load(ordering: .relaxed) }

    /// `logger`, its handler behind this relay (unless it never blocks anyway).
    func relaying(_ logger: Logger) -> Logger {
        if logger.handler is NonBlockingLogHandler || logger.handler is RelayedLogHandler { return logger }
        var relayed = logger
        relayed.handler = RelayedLogHandler(inner: logger.handler, relay: self)
        return relayed
    }

    func submit(_ event: LogEvent, to handler: any LogHandler) {
        let accepted = pending.withLock { state -> Bool in
            guard !state.stopping, state.events.count < maxQueued else { return false }
            state.events.append((handler, event))
            return true
        }
        if accepted { wake.signal() } else { dropped.add(1, ordering: .relaxed) }
    }

    /// Logs what is queued (waiting at most `seconds` for a stalled handler), then ends the thread.
    func stop(waitingAtMost seconds: Double = 5) {
        let first = pending.withLock { state -> Bool in
            defer { state.stopping = true }
            return !state.stopping
        }
        guard first else { return }
        wake.signal()
        _ = finished.wait(timeoutMilliseconds: Int(seconds * 1000))
    }

    private func run() {
        while true {
            wake.wait()
            let (events, stopping) = pending.withLock { state in
                defer { state.events.removeAll() }
                return (state.events, state.stopping)
            }
            for (handler, event) in events { handler.log(event: event) }
            if stopping {
                finished.signal()
                return
            }
        }
    }
}

/// A handler whose events go through a `LogRelay`: its level and metadata are the inner
/// handler's, read and set on the caller's side.
struct RelayedLogHandler: LogHandler {
    var inner: any LogHandler
    let relay: LogRelay

    var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        relay.submit(event, to: inner)
    }
}
