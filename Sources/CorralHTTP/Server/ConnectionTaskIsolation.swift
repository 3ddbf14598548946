import CorralRuntime

// Where the worker tasks of one loop run, and how they wait.
//
// A loop's worker tasks (`LoopWorkers`) are isolated to its `LoopIsolation`, an actor whose
// executor is the loop: the tasks, and the `nonisolated(nonsending)` handlers they call, run on
// the loop's thread,
// and each executor check on the way (after an await) compares two executors and goes on. The
// task has no task-executor preference: with one, the Swift runtime (6.3) looks the preference up
// under the task's status-record lock at every executor check and every enqueue, ~1 000
// instructions per request.
//
// A task waits (for a job, a body chunk, room to write) by parking, not on a continuation:
// a continuation always resumes its task on the generic executor (the compiler does not tell it
// where the task will go on), which for a task without preference is the global pool, one thread
// crossing per wait. To park, the task hops to the loop's `ParkingGate`, an executor whose
// `enqueue` keeps the job it is given in the worker instead of running it; the worker is woken
// by handing that job to the loop, which runs it as one of its own actor jobs, so the task
// continues on the loop, isolated to `LoopIsolation` as before it parked, without another hop.
// (The runtime enqueues the job on the gate synchronously, inside the hop, on the loop's thread:
// the gate knows which worker is parking from `arriving`.)

/// The isolation of a loop's worker tasks: its executor is the loop.
actor LoopIsolation {
    let loop: EventLoop
    /// Where the tasks park.
    let parker: Parker

    init(loop: EventLoop) {
        self.loop = loop
        parker = Parker(gate: ParkingGate(loop: loop))
    }

    nonisolated var unownedExecutor: UnownedSerialExecutor { loop.asUnownedSerialExecutor() }

    /// Starts a worker's task, isolated to this loop (the loop's thread only).
    nonisolated func startTask(_ worker: LoopWorker, of workers: LoopWorkers) -> Task<Void, Never> {
        let worker = UncheckedBox(worker), workers = UncheckedBox(workers)
        return assumeIsolated { isolation in
            Task { await WorkerTask.run(worker.value, of: workers.value, on: isolation) }
        }
    }
}

/// Where a loop's worker tasks park: an executor that keeps the jobs enqueued on it in the
/// worker that is parking, to be given back to the loop (`LoopWorker.wake(on:)`).
final class ParkingGate: SerialExecutor, @unchecked Sendable {
    let loop: EventLoop
    /// The worker whose task is hopping here now: set just before the hop, on the loop's thread.
    @exclusivity(unchecked) var arriving: LoopWorker?

    init(loop: EventLoop) { self.loop = loop }

    /// Keeps the job of the parking task in its worker. A job that comes otherwise (no worker
    /// is parking, or not from the loop's thread) goes to the loop at once: its task wakes,
    /// finds nothing to do, and parks again.
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        guard loop.inLoop, let worker = arriving else {
            loop.enqueueActorJob(ExecutorJob(job))
            return
        }
        arriving = nil
        worker.parked = job
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor { UnownedSerialExecutor(ordinary: self) }

    func isIsolatingCurrentContext() -> Bool? { loop.inLoop }

    func checkIsolated() { loop.preconditionInLoop() }
}

/// The actor a task hops to in order to park (`ParkingGate`).
actor Parker {
    let gate: ParkingGate

    init(gate: ParkingGate) { self.gate = gate }

    nonisolated var unownedExecutor: UnownedSerialExecutor { gate.asUnownedSerialExecutor() }

    /// Calling this from the loop's isolation is the hop that parks the caller's task; it runs
    /// once the task is woken, and says whether that happened on `loop` (the loop runs a woken
    /// task itself; one that has shut down, elsewhere). The body must stay: with nothing to run
    /// here, the optimiser drops the hop, and the task would not park.
    func park(on loop: EventLoop) -> Bool { loop.inLoop && !loop.hasFinished }
}
