import CorralRuntime
import Synchronization

/// Counters of a running server, summed over its loops; readable from any thread
/// (the metrics endpoint, tests, the shutdown summary).
public final class ServerStats: Sendable {
    private let status2xx = Atomic<Int>(0)
    private let status3xx = Atomic<Int>(0)
    private let status4xx = Atomic<Int>(0)
    private let status5xx = Atomic<Int>(0)
    private let _bytesSent = Atomic<Int>(0)
    private let _openConnections = Atomic<Int>(0)
    private let _shed = Atomic<Int>(0)
    private let _timeouts = Atomic<Int>(0)

    private let draining = Atomic<Bool>(false)
    private let drained = try? OneShotSignal()

    init() {}

    /// Waits (at most `seconds`) until no connection is open; used by a graceful stop.
    func waitUntilDrained(seconds: Double) {
        draining.store(true, ordering: .sequentiallyConsistent)
        guard openConnections > 0, let drained else { return }
        _ = drained.wait(timeoutMilliseconds: Int(seconds * 1000))
    }

    func counted(status: Int, bodyBytes: Int) {
        switch status / 100 {
        case 2: status2xx.add(1, ordering: .relaxed)
        case 3: status3xx.add(1, ordering: .relaxed)
        case 4: status4xx.add(1, ordering: .relaxed)
        default: status5xx.add(1, ordering: .relaxed)
        }
        _bytesSent.add(bodyBytes, ordering: .relaxed)
    }

    /// Body bytes queued after the response was counted (a streamed body).
    func counted(bodyBytes: Int) { _bytesSent.add(bodyBytes, ordering: .relaxed) }

    func opened() -> Int { _openConnections.add(1, ordering: .relaxed).newValue }
    func closed() {
        let left = _openConnections.subtract(1, ordering: .sequentiallyConsistent).newValue
        if left == 0 && draining.load(ordering: .sequentiallyConsistent) { drained?.signal() }
    }
    func shedOne() { _shed.add(1, ordering: .relaxed) }
    func timedOut() { _timeouts.add(1, ordering: .relaxed) }

    /// Responses sent with a status in `100 * statusClass ..< 100 * (statusClass + 1)`.
    public func responses(statusClass: Int) -> Int {
        switch statusClass {
        case 2: status2xx.load(ordering: .relaxed)
        case 3: status3xx.load(ordering: .relaxed)
        case 4: status4xx.load(ordering: .relaxed)
        case 5: status5xx.load(ordering: .relaxed)
        default: 0
        }
    }

    public var requests: Int { (2...5).map { responses(statusClass: $0) }.reduce(0, +) }
    /// Body bytes queued for sending.
    public var bodyBytesSent: Int { _bytesSent.load(ordering: .relaxed) }
    public var openConnections: Int { _openConnections.load(ordering: .relaxed) }
    /// Connections closed at once because `maxConnections` were open.
    public var shedConnections: Int { _shed.load(ordering: .relaxed) }
    /// Connections closed by a header, keep-alive or write timeout.
    public var timeouts: Int { _timeouts.load(ordering: .relaxed) }
}
