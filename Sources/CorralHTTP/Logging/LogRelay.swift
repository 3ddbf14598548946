import CorralRuntime
import Logging
import Synchronization

/// Keeps event loops from ever waiting for a log handler: the server's logger hands its events to
/// this relay's thread, which calls the handler the application configured (a stream to a
/// terminal, a pipe, a network client: any of them may block). At most `maxQueued` events wait;
/// beyond that they are dropped and counted (`droppedEvents`), never queued without bound.
/// `NonBlockingLogHandler` needs no relay (it already never blocks).
final class LogRelay: Sendable {
    private let queue: BoundedHandoff<(handler: any LogHandler, event: LogEvent)>
    private let dropped = Atomic<Int>(0)

    init(maxQueued: Int = 10_000) throws(SystemError) {
        queue = try BoundedHandoff(budget: maxQueued)
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
        if !queue.submit((handler, event), cost: 1) { dropped.add(1, ordering: .relaxed) }
    }

    /// Logs what is queued (waiting at most `seconds` for a stalled handler), then ends the thread.
    func stop(waitingAtMost seconds: Double = 5) {
        queue.stop(waitingAtMost: seconds)
    }

    private func run() {
        while true {
            let (events, last) = queue.nextBatch()
            for (handler, event) in events { handler.log(event: event) }
            if last {
                queue.consumerFinished()
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
