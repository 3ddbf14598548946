package import CCorral
import Glibc

/// Thread start, join and CPU placement: the runtime's only use of pthreads.
package enum Threads {
    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Starts a thread running `body`: joinable, or detached (its resources go back to the
    /// system when `body` returns). `stackSize` (bytes, 0 = the default 8 MiB) matters for
    /// designs that run one thread per connection.
    @discardableResult
    package static func spawn(
        name: String, detached: Bool = false, stackSize: Int = 0, _ body: @escaping () -> Void
    ) throws(SystemError) -> pthread_t {
        var thread = pthread_t()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        if detached { pthread_attr_setdetachstate(&attributes, CInt(PTHREAD_CREATE_DETACHED)) }
        if stackSize > 0 {
            let result = pthread_attr_setstacksize(&attributes, max(stackSize, Int(PTHREAD_STACK_MIN)))
            guard result == 0 else { throw SystemError("pthread_attr_setstacksize", errno: .init(rawValue: result)) }
        }
        let box = Unmanaged.passRetained(Box({
            // Names show up in top -H and /proc/PID/task/TID/comm (15 bytes max).
            _ = ccorral_set_thread_name(String(name.prefix(15)))
            body()
        })).toOpaque()
        let result = pthread_create(&thread, &attributes, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        guard result == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            throw SystemError("pthread_create", errno: .init(rawValue: result))
        }
        return thread
    }

    package static func join(_ thread: pthread_t) {
        let result = pthread_join(thread, nil)
        precondition(result == 0, "pthread_join: \(result)")
    }

    /// Pins the calling thread to `cpu` with sched_setaffinity(2).
    package static func pinCurrent(to cpu: Int) throws(SystemError) {
        _ = try syscall("sched_setaffinity") { ccorral_pin_to_cpu(CInt(cpu)) }
    }

    /// The CPUs this process may run on (sched_getaffinity(2)), in order.
    package static func allowedCPUs() -> [Int] {
        let count = Int(ccorral_affinity_cpu_count())
        guard count > 0 else { return [0] }
        return (0..<count).map { Int(ccorral_affinity_nth_cpu(CInt($0))) }
    }

    package static func currentTID() -> Int { Int(ccorral_gettid()) }
}

/// The number of CPUs the process may run on: the default size of an event-loop group.
public func availableCPUCount() -> Int { max(1, Threads.allowedCPUs().count) }
