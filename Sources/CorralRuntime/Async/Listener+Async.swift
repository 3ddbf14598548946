import DequeModule
import Logging
import ServiceLifecycle

extension Listener {
    /// Serves connections with `handler`, each in a child task of the caller's that prefers the
    /// connection's loop as its executor: the handler's code runs on the loop's thread, next to
    /// its socket, with no thread hop per message. Starts the listener if needed.
    ///
    /// Runs until the task is cancelled, or (inside a `ServiceGroup`) until graceful shutdown:
    /// then it stops accepting and waits for the handlers of open connections to return (on
    /// cancellation, their tasks are cancelled, which closes their connections). When a handler
    /// returns or throws, its connection is closed after its queued bytes are sent; a thrown
    /// error is logged (`options.logger`, debug) and ends only that connection.
    ///
    /// For a listener made without a handler factory (`init(group:address:strategy:options:)`).
    public func run(_ handler: @escaping @Sendable (AsyncConnection) async throws -> Void) async throws {
        guard let accepted else {
            preconditionFailure("run(_:) serves a listener made without a handler factory; this one has callbacks")
        }
        if !isStarted { try start() }
        let logger = options.logger
        // The accept loop itself prefers the group's first loop as its executor: serving never
        // waits for a thread of the global pool (which blocking code elsewhere in the process
        // may hold), and connections accepted on that loop start without any thread hop.
        await withTaskExecutorPreference(group.loops[0]) {
            await withTaskCancellationOrGracefulShutdownHandler {
                await withDiscardingTaskGroup { group in
                    accepting: while true {
                        switch await accepted.next() {
                        case .connection(let connection):
                            group.addTask(executorPreference: connection.loop) {
                                do {
                                    try await connection.serve(handler)
                                } catch {
                                    logger.debug("connection handler failed", metadata: ["error": "\(error)"])
                                }
                            }
                        case .stopRequested:
                            // Stop accepting (the backlog is taken and served); `stop` then
                            // finishes the queue, and what it still holds is served below.
                            await self.stop()
                        case .finished:
                            break accepting
                        }
                    }
                    // No new connections; the group now waits for the open ones.
                }
            } onCancelOrGracefulShutdown: {
                accepted.requestStop()
            }
        }
    }

    /// Serves a callback listener (one made with a handler factory) until the task is cancelled
    /// or, inside a `ServiceGroup`, until graceful shutdown; then stops accepting. Open
    /// connections are left to their handlers (and closed when their loops shut down).
    public func run() async throws {
        precondition(accepted == nil, "a listener for the async API is served with run(_:)")
        if !isStarted { try start() }
        try? await gracefulShutdown()  // returns on graceful shutdown, throws on cancellation
        await stop()
    }

    /// A `Service` that serves this listener with `handler` (`run(_:)`), for a `ServiceGroup`.
    public func serving(_ handler: @escaping @Sendable (AsyncConnection) async throws -> Void) -> Serving {
        Serving(listener: self, handler: handler)
    }

    /// `run(_:)` as a `Service`.
    public struct Serving: Service {
        let listener: Listener
        let handler: @Sendable (AsyncConnection) async throws -> Void

        public func run() async throws { try await listener.run(handler) }
    }
}

extension Listener: Service {}

/// Connections accepted by the loops, waiting for `Listener.run` to start their tasks. Any
/// thread pushes; one task takes.
final class AcceptedConnections: Sendable {
    enum Next {
        case connection(AsyncConnection)
        /// Graceful shutdown or cancellation: the taker should stop the listener.
        case stopRequested
        /// The listener has stopped and every queued connection has been taken.
        case finished
    }

    private struct State {
        var queue = Deque<AsyncConnection>()
        var waiter: UnsafeContinuation<Next, Never>?
        var stopRequested = false
        var stopDelivered = false
        var finished = false
    }

    private let state = Locked(State())

    /// Queues a connection; false once finished (the caller then closes it).
    func push(_ connection: AsyncConnection) -> Bool {
        let outcome = state.withLock { state -> UnsafeContinuation<Next, Never>?? in
            if state.finished { return .none }
            if let waiter = state.waiter {
                state.waiter = nil
                return .some(waiter)
            }
            state.queue.append(connection)
            return .some(nil)
        }
        guard let waiter = outcome else { return false }
        waiter?.resume(returning: .connection(connection))
        return true
    }

    /// The next connection; `.stopRequested` once after `requestStop()`; `.finished` once
    /// `finish()` was called and the queue is empty.
    func next() async -> Next {
        await withUnsafeContinuation { continuation in
            let ready = state.withLock { state -> Next? in
                if let connection = state.queue.popFirst() { return .connection(connection) }
                if state.finished { return .finished }
                if state.stopRequested && !state.stopDelivered {
                    state.stopDelivered = true
                    return .stopRequested
                }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Asks the taker to stop the listener (from a graceful-shutdown or cancellation handler).
    func requestStop() {
        let waiter = state.withLock { state -> UnsafeContinuation<Next, Never>? in
            guard !state.stopRequested, !state.finished else { return nil }
            state.stopRequested = true
            guard let waiter = state.waiter else { return nil }
            state.waiter = nil
            state.stopDelivered = true
            return waiter
        }
        waiter?.resume(returning: .stopRequested)
    }

    /// No more connections will come: later pushes are refused; the taker gets what is queued,
    /// then `.finished`.
    func finish() {
        let waiter = state.withLock { state -> UnsafeContinuation<Next, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: .finished)
    }
}
