import CorralRuntime

/// Hands items from any thread to one consumer thread, in order and a batch per wake-up, so
/// that producers (event loops) never wait for what the consumer does with them. At most
/// `budget` units wait (the producer says what an item costs: one event, a buffer's bytes);
/// beyond that `submit` refuses and the producer counts the drop. `stop` lets the consumer take
/// a last batch and waits a bounded time for it. The queue of `LogWriter` and `LogRelay`.
final class BoundedHandoff<Item>: Sendable {
    private struct Pending {
        var items: [Item] = []
        var cost = 0
        var stopping = false
    }

    private let pending: Locked<Pending>
    private let wake: OneShotSignal
    private let finished: OneShotSignal
    private let budget: Int

    init(budget: Int) throws(SystemError) {
        self.budget = budget
        pending = Locked(Pending())
        wake = try OneShotSignal()
        finished = try OneShotSignal()
    }

    /// Queues `item` unless it would exceed the budget or the handoff is stopping; false when
    /// refused (the item is the caller's to count as dropped).
    func submit(_ item: Item, cost: Int) -> Bool {
        let accepted = pending.withLock { state -> Bool in
            guard !state.stopping, state.cost + cost <= budget else { return false }
            state.items.append(item)
            state.cost += cost
            return true
        }
        if accepted { wake.signal() }
        return accepted
    }

    /// Queues control work (e.g. a reopen) whatever the budget.
    func append(_ item: Item) {
        pending.withLock { $0.items.append(item) }
        wake.signal()
    }

    /// For the consumer thread only: waits for the next batch; `last` once `stop` was called,
    /// after which the consumer calls `consumerFinished()` and ends.
    func nextBatch() -> (items: [Item], last: Bool) {
        wake.wait()
        return pending.withLock { state in
            defer {
                state.items = []
                state.cost = 0
            }
            return (state.items, state.stopping)
        }
    }

    /// The consumer has processed its last batch.
    func consumerFinished() {
        finished.signal()
    }

    /// Refuses new items, lets the consumer take what is queued, and waits at most `seconds`
    /// for it to finish. Only the first call waits.
    func stop(waitingAtMost seconds: Double) {
        let first = pending.withLock { state -> Bool in
            defer { state.stopping = true }
            return !state.stopping
        }
        guard first else { return }
        wake.signal()
        _ = finished.wait(timeoutMilliseconds: Int(seconds * 1000))
    }
}
