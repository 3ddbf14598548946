import CorralRuntime
import DequeModule

// The tasks that run a loop's async handlers and streamed bodies.
//
// A loop keeps a few long-lived tasks, its workers, instead of one task per connection. A
// connection with an async job (a handler to run, a body to stream) joins the loop's queue of
// waiting connections; a worker takes the first, runs its jobs, and takes the next, until the
// queue is empty; then it parks in the pool of idle workers (last in, first out). With handlers
// that do not suspend, one worker runs a whole turn's requests one after the other: no wake-up
// per request, and its task state stays in the caches. (With a task per connection, 1 000
// connections woke 1 000 different tasks in turn, each one cold: callgrind's cache simulation
// counted 45 last-level misses per request at 1 000 connections, against the sync route's 18.)
//
// A handler that suspends keeps its worker, so the queue must not wait for it: while
// connections wait, one more worker is always woken, the standby, and the first worker to run
// takes over the queue. So there are as many workers as exchanges in progress plus one, at most
// `LoopWorkers.maximumIdle` of them kept idle.

/// One of a loop's worker tasks (loop thread only).
final class LoopWorker {
    /// Its task's job while the task is parked (idle, or waiting for a body chunk or room to
    /// write); `wake(on:)` gives it to the loop.
    @exclusivity(unchecked) var parked: UnownedJob?
    @exclusivity(unchecked) var task: Task<Void, Never>?
    /// Its connection closed while a job ran, and cancelled the task: the worker ends after
    /// the job (cancellation cannot be undone).
    @exclusivity(unchecked) private(set) var retired = false

    /// Hands the parked task's job to the loop (run on its next turn, isolated to the loop).
    func wake(on loop: EventLoop) {
        guard let job = parked else { return }
        parked = nil
        loop.enqueueActorJob(ExecutorJob(job))
    }

    /// Cancels the running job's task: its connection closed.
    func retire() {
        retired = true
        task?.cancel()
    }

    /// Suspends the task until `wake(on:)` (or, rarely, sooner: callers check what they wait
    /// for again). Called by the worker's task, isolated to the loop; false if it woke
    /// elsewhere (the loop has shut down), when nothing of the loop's may be touched.
    nonisolated(nonsending) func park(_ parker: Parker, on loop: EventLoop) async -> Bool {
        parker.gate.arriving = self
        return await parker.park(on: loop)
    }
}

/// A loop's workers: the connections waiting for one, the idle ones, the standby (loop thread
/// only).
final class LoopWorkers {
    /// Idle workers kept beyond this end instead.
    static let maximumIdle = 64

    let isolation: LoopIsolation
    @exclusivity(unchecked) private var waiting = Deque<HTTPConnectionHandler>()
    @exclusivity(unchecked) private var idle: [LoopWorker] = []
    /// The worker woken for the waiting connections that has not run yet.
    @exclusivity(unchecked) private var standby: LoopWorker?
    @exclusivity(unchecked) private(set) var stopped = false

    init(isolation: LoopIsolation) { self.isolation = isolation }

    /// Queues `connection`, which has a job and no worker.
    func submit(_ connection: HTTPConnectionHandler) {
        waiting.append(connection)
        if standby == nil { wakeStandby() }
    }

    private func wakeStandby() {
        if let worker = idle.popLast() {
            standby = worker
            worker.wake(on: isolation.loop)
        } else {
            let worker = LoopWorker()
            standby = worker
            worker.task = isolation.startTask(worker, of: self)
        }
    }

    /// The next waiting connection for `worker`, which is running (and so no longer the
    /// standby); while more wait, a standby is woken in case this connection's job suspends.
    func next(for worker: LoopWorker) -> HTTPConnectionHandler? {
        if standby === worker { standby = nil }
        guard let connection = waiting.popFirst() else { return nil }
        if !waiting.isEmpty && standby == nil { wakeStandby() }
        return connection
    }

    /// Takes back a worker that found no connection waiting; false if it should end instead.
    func takeBack(_ worker: LoopWorker) -> Bool {
        guard !stopped, !worker.retired, idle.count < Self.maximumIdle else { return false }
        idle.append(worker)
        return true
    }

    /// Ends the idle workers, and those that run out of work from now on (the server stops).
    func stop() {
        stopped = true
        let ending = idle
        idle = []
        for worker in ending { worker.wake(on: isolation.loop) }
    }
}

/// A worker's task: the jobs of each waiting connection in turn, then back to the pool, parked.
/// After each suspension it checks that it is still on the loop: a loop that has shut down runs
/// its jobs elsewhere, and then there is nothing left to serve.
enum WorkerTask {
    static func run(_ worker: LoopWorker, of workers: LoopWorkers, on isolation: isolated LoopIsolation) async {
        let loop = isolation.loop
        while loop.inLoop && !loop.hasFinished {
            while let connection = workers.next(for: worker) {
                connection.take(worker)
                while true {
                    // Each job returns whether the loop is still usable (see `isUsable`).
                    if let pending = connection.tasks.handler.take() {
                        let id = connection.tasks.jobID
                        if !pending.prepared {
                            let request = connection.exchangeRequest(id: id)
                            let context = RequestContext(parameters: Parameters(storage: request.storage),
                                                         services: pending.services)
                            guard await handle(pending.handler, request, context, [], id: id, on: connection, isolation: isolation)
                            else { return }
                        } else {
                            let prepared = connection.tasks.prepared.take()!
                            guard await handle(pending.handler, prepared.request, prepared.context, prepared.middleware,
                                               id: id, on: connection, isolation: isolation) else { return }
                        }
                    } else if let (write, id) = connection.tasks.stream.take() {
                        guard await stream(write, id: id, HandlerReference(connection)) else { return }
                    } else {
                        break
                    }
                }
                connection.release(worker)
                if worker.retired { return }
            }
            guard workers.takeBack(worker) else { return }
            guard await worker.park(isolation.parker, on: loop) else { return }
        }
    }

    /// Runs an async handler of `connection` (of the worker's loop) and answers with its
    /// response; false if the loop has shut down meanwhile (nothing of its may be touched).
    /// Isolated to the loop rather than `nonisolated(nonsending)`: the hop back after the
    /// handler is then to a known actor (no cast of the implicit isolation per request).
    private static func handle(
        _ route: Router.Handler, _ request: Request, _ context: RequestContext, _ middleware: ArraySlice<any Middleware>,
        id: UInt64, on connection: HTTPConnectionHandler, isolation: isolated LoopIsolation
    ) async -> Bool {
        let loop = isolation.loop
        var response: Response
        do {
            response = try await route(request, context)
        } catch {
            response = RouterResponder.response(for: error, logger: context.logger)
        }
        // As `HandlerReference.isUsable`: a loop that has shut down runs its jobs elsewhere.
        guard loop.inLoop && !loop.hasFinished else { return false }
        if !middleware.isEmpty {
            RouterResponder.didHandle(middleware, request, context, &response)
        }
        connection.handlerDidRespond(id: id, response)
        return true
    }

    /// Runs a streamed body's writer; false if the loop has shut down meanwhile.
    private nonisolated(nonsending) static func stream(_ write: ResponseBody.Stream, id: UInt64, _ handler: HandlerReference) async -> Bool {
        var writer = ResponseBodyWriter(sink: handler, exchange: id)
        var failed = false
        do {
            try await write(&writer)
        } catch {
            failed = true
            if !(error is HTTPError) && handler.isUsable {
                handler.value.context.logger.error("response stream failed", metadata: ["error": "\(error)"])
            }
        }
        guard handler.isUsable else { return false }
        handler.value.streamDidEnd(id: id, failed: failed)
        return true
    }
}
