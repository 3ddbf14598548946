import Synchronization

/// The cross-thread submission queue of one event loop: many producers, one consumer (the loop).
///
/// A lock-free stack: producers push with a compare-and-swap; the loop takes the whole stack
/// with one exchange and runs it oldest first. Taking everything at once makes the stack immune
/// to ABA. `push` reports whether the stack was empty, which the loop uses to decide whether a
/// wake-up write is needed at all.
final class TaskInbox: @unchecked Sendable {
    private final class Node {
        let task: @Sendable () -> Void
        var next: UnsafeMutableRawPointer?
        init(_ task: @escaping @Sendable () -> Void) { self.task = task }
    }

    private let top = Atomic<UnsafeMutableRawPointer?>(nil)

    /// Pushes a task; safe from any thread.
    func push(_ task: @escaping @Sendable () -> Void) {
        let node = Unmanaged.passRetained(Node(task))
        let raw = node.toOpaque()
        var expected = top.load(ordering: .relaxed)
        while true {
            node.takeUnretainedValue().next = expected
            let (exchanged, current) = top.compareExchange(
                expected: expected, desired: raw, successOrdering: .releasing, failureOrdering: .relaxed)
            if exchanged { return }
            expected = current
        }
    }

    /// True when a task is waiting. Used by the loop just before it sleeps.
    var isEmpty: Bool { top.load(ordering: .acquiring) == nil }

    /// Takes every pending task and runs them in submission order. Loop thread only.
    /// Returns the number of tasks run.
    @discardableResult
    func drain(into scratch: inout [@Sendable () -> Void]) -> Int {
        guard var raw = top.exchange(nil, ordering: .acquiring) else { return 0 }
        scratch.removeAll(keepingCapacity: true)
        while true {
            let node = Unmanaged<Node>.fromOpaque(raw).takeRetainedValue()
            scratch.append(node.task)
            guard let next = node.next else { break }
            raw = next
        }
        for task in scratch.reversed() { task() }
        let count = scratch.count
        scratch.removeAll(keepingCapacity: true)
        return count
    }

    deinit {
        var raw = top.exchange(nil, ordering: .acquiring)
        while let current = raw {
            let node = Unmanaged<Node>.fromOpaque(current).takeRetainedValue()
            raw = node.next
        }
    }
}
