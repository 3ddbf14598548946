import CCorral
import Glibc

/// Thread start, join and CPU placement: the runtime's only use of pthreads.
package enum Threads {
    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Starts a joinable thread running `body`.
    package static func spawn(name: String, _ body: @escaping () -> Void) throws(SystemError) -> pthread_t {
        var thread = pthread_t()
        let box = Unmanaged.passRetained(Box({
            // Names show up in top -H and /proc/PID/task/TID/comm (15 bytes max).
            _ = ccorral_set_thread_name(String(name.prefix(15)))
            body()
        })).toOpaque()
        let result = pthread_create(&thread, nil, { raw in
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
