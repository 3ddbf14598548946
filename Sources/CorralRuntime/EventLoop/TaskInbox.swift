import Synchronization

/// One unit of work for a loop: a closure (`execute`), or a Swift concurrency job of a task
/// preferring the loop (`job`) or of an actor whose executor is the loop (`actorJob`). All run
/// in submission order on the loop's thread.
enum LoopWork {
    case task(() -> Void)
    case job(UnownedJob)
    case actorJob(UnownedJob)
}

/// The cross-thread submission queue of one event loop: many producers, one consumer (the loop).
///
/// A lock-free stack: producers push with a compare-and-swap; the loop takes the whole stack
/// with one exchange and runs it oldest first. Taking everything at once makes the stack immune
/// to ABA. When the loop shuts down it closes the inbox with the same exchange, so a push either
/// lands before the final drain (and runs) or is refused (and its task is released at once):
/// no task is ever stranded holding references to the loop.
final class TaskInbox: @unchecked Sendable {
    private final class Node {
        let work: LoopWork
        var next: UnsafeMutableRawPointer?
        init(_ work: LoopWork) { self.work = work }
    }

    /// The top of the stack; `closed` once the loop has taken its last batch.
    private let top = Atomic<UnsafeMutableRawPointer?>(nil)
    /// A sentinel no allocation can return (address 1 is unaligned and in the zero page).
    private static var closed: UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: 1)! }

    /// Pushes work; safe from any thread. Returns false (dropping it) once closed.
    func push(_ work: LoopWork) -> Bool {
        let node = Unmanaged.passRetained(Node(work))
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

    /// True when work is waiting. Used by the loop just before it sleeps.
    var isEmpty: Bool {
        let current = top.load(ordering: .acquiring)
        return current == nil || current == Self.closed
    }

    /// Moves every pending item, oldest first, to the end of `queue`. Loop thread only (which
    /// is also the only thread that closes the inbox, so nothing can close it in between).
    func drain(into queue: inout [LoopWork]) {
        let current = top.load(ordering: .relaxed)
        guard current != nil, current != Self.closed else { return }  // no atomic write when idle
        take(top.exchange(nil, ordering: .acquiring), into: &queue)
    }

    /// Moves what is pending to `queue` and refuses every later push. Loop thread only, once,
    /// at shutdown.
    func close(into queue: inout [LoopWork]) {
        take(top.exchange(Self.closed, ordering: .acquiring), into: &queue)
    }

    private func take(_ taken: UnsafeMutableRawPointer?, into queue: inout [LoopWork]) {
        guard var raw = taken, raw != Self.closed else { return }
        let start = queue.count
        while true {
            let node = Unmanaged<Node>.fromOpaque(raw).takeRetainedValue()
            queue.append(node.work)
            guard let next = node.next else { break }
            raw = next
        }
        queue[start...].reverse()  // the stack holds newest first
    }

    deinit {
        var raw = top.exchange(nil, ordering: .acquiring)
        while let current = raw, current != Self.closed {
            let node = Unmanaged<Node>.fromOpaque(current).takeRetainedValue()
            raw = node.next
        }
    }
}
