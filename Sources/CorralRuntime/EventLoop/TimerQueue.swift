import HeapModule

/// A scheduled callback; keep it to cancel the timer. Loop-thread only.
public final class TimerHandle {
    fileprivate(set) var isCancelled = false
    /// Dropped once the timer has fired or been cancelled, or its loop has closed: what the
    /// callback captured is released then, so an owner that keeps its handle while the
    /// callback captures the owner (a repeating tick) forms no cycle that outlives the timer.
    fileprivate var callback: (() -> Void)?
    fileprivate init(_ callback: @escaping () -> Void) { self.callback = callback }

    /// Cancels the timer; a no-op if it has fired. Call on the loop that scheduled it.
    public func cancel() {
        isCancelled = true
        callback = nil
    }
}

/// The deadlines of one loop, in a binary min-heap. Cancellation is lazy: a cancelled entry
/// stays in the heap until it reaches the top, which keeps cancel O(1).
struct TimerQueue {
    private struct Entry: Comparable {
        let deadline: UInt64
        let sequence: UInt64
        let handle: TimerHandle
        static func < (a: Entry, b: Entry) -> Bool {
            (a.deadline, a.sequence) < (b.deadline, b.sequence)
        }
        static func == (a: Entry, b: Entry) -> Bool { a.sequence == b.sequence }
    }

    private var heap = Heap<Entry>()
    private var sequence: UInt64 = 0

    mutating func schedule(at deadline: UInt64, _ callback: @escaping () -> Void) -> TimerHandle {
        let handle = TimerHandle(callback)
        sequence &+= 1
        heap.insert(Entry(deadline: deadline, sequence: sequence, handle: handle))
        return handle
    }

    /// The earliest live deadline, discarding cancelled entries on the way.
    mutating func nextDeadline() -> UInt64? {
        while let top = heap.min {
            if !top.handle.isCancelled { return top.deadline }
            _ = heap.popMin()
        }
        return nil
    }

    /// Removes and returns the callbacks due at `now`, in deadline order (ties: scheduling order).
    mutating func popExpired(now: UInt64, into due: inout [TimerHandle]) {
        while let top = heap.min, top.deadline <= now {
            _ = heap.popMin()
            if !top.handle.isCancelled { due.append(top.handle) }
        }
    }

    var isEmpty: Bool { heap.isEmpty }

    /// Drops every timer and what its callback captured (the loop is closing).
    mutating func removeAll() {
        for entry in heap.unordered { entry.handle.cancel() }
        heap = Heap()
    }
}

extension TimerHandle {
    /// Runs the callback unless it was cancelled in the meantime (by an earlier timer of the same batch).
    func fire() {
        if !isCancelled, let body = callback {
            isCancelled = true
            callback = nil
            body()
        }
    }
}
