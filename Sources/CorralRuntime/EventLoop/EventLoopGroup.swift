import ServiceLifecycle
import Synchronization

/// N event loops, one thread each. The default size is the number of CPUs the process may run
/// on (sched_getaffinity), so a `taskset` around the process shrinks the group with it.
///
/// A `Service`: in a `ServiceGroup` put it before the listeners and servers that use it, so that
/// graceful shutdown (which goes in reverse order) stops them first and the loops last.
public final class EventLoopGroup: Sendable {
    public let loops: [EventLoop]
    private let cursor = Atomic<Int>(0)

    /// Creates (and does not start) `loopCount` loops; `pinToCPUs` pins loop i to the i-th allowed CPU.
    public init(loopCount: Int = availableCPUCount(), pinToCPUs: Bool = false) throws(SystemError) {
        precondition(loopCount > 0, "an event-loop group needs at least one loop")
        let cpus = Threads.allowedCPUs()
        var loops: [EventLoop] = []
        loops.reserveCapacity(loopCount)
        for i in 0..<loopCount {
            loops.append(try EventLoop(index: i, cpu: pinToCPUs ? cpus[i % cpus.count] : nil))
        }
        self.loops = loops
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
