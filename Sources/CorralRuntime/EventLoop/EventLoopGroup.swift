import Logging
import ServiceLifecycle
import Synchronization
import SystemPackage

/// N event loops, one thread each. The default size is the number of CPUs the process may run
/// on (sched_getaffinity), so a `taskset` around the process shrinks the group with it.
///
/// All loops of a group use one backend (`EventLoopBackend`). A group asked for `uring` where
/// io_uring cannot be set up (no kernel support, `kernel.io_uring_disabled`, a seccomp filter,
/// a kernel older than 6.1) uses epoll instead, says why once in its logger (a warning), and
/// keeps the reason in `backendNote`; `backend` is what the loops really use.
///
/// A `Service`: in a `ServiceGroup` put it before the listeners and servers that use it, so that
/// graceful shutdown (which goes in reverse order) stops them first and the loops last.
public final class EventLoopGroup: Sendable {
    public let loops: [EventLoop]
    /// The backend the loops use.
    public let backend: EventLoopBackend
    /// Why the group uses epoll although `uring` was asked for (one line), or nil.
    public let backendNote: String?
    private let cursor = Atomic<Int>(0)

    /// Creates (and does not start) `loopCount` loops; `pinToCPUs` pins loop i to the i-th
    /// allowed CPU. `backend` defaults to `EventLoopBackend.default`.
    public convenience init(
        loopCount: Int = availableCPUCount(), pinToCPUs: Bool = false, backend: EventLoopBackend = .default,
        logger: Logger = Logger(label: "corral.loops")
    ) throws(SystemError) {
        try self.init(loopCount: loopCount, pinToCPUs: pinToCPUs, backend: backend, logger: logger, uringFailure: nil)
    }

    /// `uringFailure` stands for io_uring_setup failing with that error (tests of the fallback).
    package init(
        loopCount: Int, pinToCPUs: Bool, backend: EventLoopBackend, logger: Logger, uringFailure: Errno?
    ) throws(SystemError) {
        precondition(loopCount > 0, "an event-loop group needs at least one loop")
        let cpus = Threads.allowedCPUs()
        var chosen = backend
        var note: String? = nil
        var loops: [EventLoop] = []
        loops.reserveCapacity(loopCount)
        for i in 0..<loopCount {
            let cpu = pinToCPUs ? cpus[i % cpus.count] : nil
            do throws(SystemError) {
                if chosen.kind == .uring, let uringFailure { throw SystemError("io_uring_setup", errno: uringFailure) }
                loops.append(try EventLoop(index: i, cpu: cpu, backend: chosen))
            } catch {
                guard chosen.kind == .uring, i == 0, let reason = EventLoopBackend.unavailabilityReason(error) else {
                    for loop in loops { loop.shutdown() }
                    throw error
                }
                chosen = .epoll
                note = reason
                logger.warning("\(reason)")
                loops.append(try EventLoop(index: i, cpu: cpu, backend: chosen))
            }
        }
        self.loops = loops
        self.backend = chosen
        self.backendNote = note
    }

    /// Starts every loop's thread (loops already started are left alone).
    public func start() throws(SystemError) {
        for loop in loops { try loop.start() }
    }

    /// Round-robin choice of a loop, for outgoing connections and dispatch.
    public func next() -> EventLoop {
        loops[cursor.add(1, ordering: .relaxed).oldValue % loops.count]
    }

    /// Shuts every loop down (closing every descriptor they own) and joins their threads.
    public func shutdown() {
        for loop in loops { loop.shutdown() }
    }
}

extension EventLoopGroup: Service {
    /// Starts the loops (if not started yet), runs until graceful shutdown or cancellation, then
    /// shuts them down.
    public func run() async throws {
        try start()
        try? await gracefulShutdown()  // returns on graceful shutdown, throws on cancellation
        shutdown()
    }
}
