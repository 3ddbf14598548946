import Synchronization

/// The cross-thread submission queue of one event loop: many producers, one consumer (the loop).
///
/// A lock-free stack: producers push with a compare-and-swap; the loop takes the whole stack
/// with one exchange and runs it oldest first. Taking everything at once makes the stack immune
/// to ABA. When the loop shuts down it closes the inbox with the same exchange, so a push either
/// lands before the final drain (and runs) or is refused (and its task is released at once):
/// no task is ever stranded holding references to the loop.
final class TaskInbox: @unchecked Sendable {
    private final class Node {
        let task: @Sendable () -> Void
        var next: UnsafeMutableRawPointer?
        init(_ task: @escaping @Sendable () -> Void) { self.task = task }
    }

    /// The top of the stack; `closed` once the loop has taken its last batch.
    private let top = Atomic<UnsafeMutableRawPointer?>(nil)
    /// A sentinel no allocation can return (address 1 is unaligned and in the zero page).
    private static var closed: UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: 1)! }

    /// Pushes a task; safe from any thread. Returns false (dropping the task) once closed.
    func push(_ task: @escaping @Sendable () -> Void) -> Bool {
        let node = Unmanaged.passRetained(Node(task))
        let raw = node.toOpaque()
        var expected = top.load(ordering: .relaxed)
        while true {
            if expected == Self.closed {
                node.release()
                return false
            }
            node.takeUnretainedValue().next = expected
            let (exchanged, current) = top.compareExchange(
                expected: expected, desired: raw, successOrdering: .releasing, failureOrdering: .relaxed)
            if exchanged { return true }
            expected = current
        }
    }

    /// True when a task is waiting. Used by the loop just before it sleeps.
    var isEmpty: Bool {
        let current = top.load(ordering: .acquiring)
        return current == nil || current == Self.closed
    }

    /// Takes every pending task and runs them in submission order. Loop thread only.
    /// Returns the number of tasks run.
    @discardableResult
    func drain(into scratch: inout [@Sendable () -> Void]) -> Int {
        run(top.exchange(nil, ordering: .acquiring), into: &scratch)
    }

    /// Runs what is pending and refuses every later push. Loop thread only, once, at shutdown.
    @discardableResult
    func close(into scratch: inout [@Sendable () -> Void]) -> Int {
        run(top.exchange(Self.closed, ordering: .acquiring), into: &scratch)
    }

    private func run(_ taken: UnsafeMutableRawPointer?, into scratch: inout [@Sendable () -> Void]) -> Int {
        guard var raw = taken, raw != Self.closed else { return 0 }
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
        while let current = raw, current != Self.closed {
            let node = Unmanaged<Node>.fromOpaque(current).takeRetainedValue()
            raw = node.next
        }
    }
}
