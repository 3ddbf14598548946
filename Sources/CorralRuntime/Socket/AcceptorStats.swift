import CoreMetrics
import Synchronization

/// Counters of one acceptor (a loop's registration of a listening socket, or a blocking
/// accept thread). Written by the acceptor's thread, readable from anywhere.
///
/// Accepts, errors and pauses also go to swift-metrics (`corral_accepted_connections_total`,
/// `corral_accept_errors_total`, `corral_accept_pauses_total`, dimension `acceptor`), so the
/// metrics backend the process bootstrapped (e.g. swift-prometheus) exports them. Wake-ups,
/// counted per epoll wake-up, stay here only: they are read by the lab.
public final class AcceptorStats: Sendable {
    /// "loop-2" or "thread-5".
    public let name: String
    private let _wakeUps = Atomic<Int>(0)
    private let _emptyWakeUps = Atomic<Int>(0)
    private let _accepted = Atomic<Int>(0)
    private let _errors = Atomic<Int>(0)
    private let _pauses = Atomic<Int>(0)
    private let _lastWakeEnd = Atomic<UInt64>(0)

    private let acceptedCounter: Counter
    private let errorCounter: Counter
    private let pauseCounter: Counter

    init(name: String) {
        self.name = name
        let dimensions = [("acceptor", name)]
        acceptedCounter = Counter(label: "corral_accepted_connections_total", dimensions: dimensions)
        errorCounter = Counter(label: "corral_accept_errors_total", dimensions: dimensions)
        pauseCounter = Counter(label: "corral_accept_pauses_total", dimensions: dimensions)
    }

    /// Times the acceptor was woken (epoll reported the listener, or accept(2) returned).
    public var wakeUps: Int { _wakeUps.load(ordering: .relaxed) }
    /// Wake-ups whose first accept found the queue empty (EAGAIN): the herd's wasted work.
    public var emptyWakeUps: Int { _emptyWakeUps.load(ordering: .relaxed) }
    /// Connections accepted.
    public var accepted: Int { _accepted.load(ordering: .relaxed) }
    /// accept errors other than EAGAIN (EMFILE, ECONNABORTED, ...).
    public var errors: Int { _errors.load(ordering: .relaxed) }
    /// Times accepting was paused because the process or system ran out of descriptors.
    public var pauses: Int { _pauses.load(ordering: .relaxed) }
    /// Monotonic time (ns) at which the acceptor last finished handling a wake-up and went back
    /// to waiting: the lab's settle time is the latest of these after a connection arrives.
    public var lastWakeEnd: UInt64 { _lastWakeEnd.load(ordering: .acquiring) }

    func wokeUp() { _wakeUps.add(1, ordering: .relaxed) }
    func foundNothing() { _emptyWakeUps.add(1, ordering: .relaxed) }
    func acceptedOne() {
        _accepted.add(1, ordering: .relaxed)
        acceptedCounter.increment()
    }
    func failed() {
        _errors.add(1, ordering: .relaxed)
        errorCounter.increment()
    }
    func paused() {
        _pauses.add(1, ordering: .relaxed)
        pauseCounter.increment()
    }
    func wakeEnded() { _lastWakeEnd.store(monotonicNanoseconds(), ordering: .releasing) }
}
