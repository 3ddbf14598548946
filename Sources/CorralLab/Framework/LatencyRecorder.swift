import Histogram

/// Records latencies in nanoseconds into an HdrHistogram and answers percentiles.
///
/// Load generators keep one recorder per connection or thread (recording is a few
/// nanoseconds and allocation-free) and merge them at the end with ``merge(_:)``,
/// so no lock sits on the measurement path. Values are kept to three significant
/// digits from 1 ns up to about an hour.
public struct LatencyRecorder: Sendable {
    /// The underlying histogram, exposed for callers that need its full API.
    public private(set) var histogram: Histogram<UInt64>

    /// Largest value tracked without loss: one hour in nanoseconds.
    public static let highestTrackableNanoseconds: UInt64 = 3_600_000_000_000

    /// An empty recorder.
    public init() {
        histogram = Histogram<UInt64>(
            lowestDiscernibleValue: 1,
            highestTrackableValue: Self.highestTrackableNanoseconds,
            numberOfSignificantValueDigits: .three)
    }

    /// Record one latency in nanoseconds; values beyond one hour are clamped to it.
    public mutating func record(nanoseconds: UInt64) {
        histogram.record(Swift.min(nanoseconds, Self.highestTrackableNanoseconds))
    }

    /// Record one latency given as a `Duration` (negative durations count as 0).
    public mutating func record(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return record(nanoseconds: 0) }
        let ns = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        let total = ns.overflow ? UInt64.max : ns.partialValue &+ UInt64(attoseconds / 1_000_000_000)
        record(nanoseconds: total)
    }

    /// Record a latency measured by a constant-rate (open-loop) generator, adding the
    /// samples a stalled closed-loop client would have missed (coordinated-omission
    /// correction, as in wrk2): every `expectedIntervalNanoseconds` below the value
    /// is recorded too.
    public mutating func recordCorrected(nanoseconds: UInt64, expectedIntervalNanoseconds: UInt64) {
        histogram.recordCorrectedValue(
            Swift.min(nanoseconds, Self.highestTrackableNanoseconds),
            expectedInterval: expectedIntervalNanoseconds)
    }

    /// Add every sample of `other` to this recorder.
    public mutating func merge(_ other: LatencyRecorder) {
        histogram.add(other.histogram)
    }

    /// A new recorder holding the samples of all `recorders`.
    public static func merged(_ recorders: [LatencyRecorder]) -> LatencyRecorder {
        var result = LatencyRecorder()
        for r in recorders { result.merge(r) }
        return result
    }

    /// Forget every sample.
    public mutating func reset() { histogram.reset() }

    /// Number of samples recorded.
    public var count: UInt64 { histogram.totalCount }

    /// Value at `percentile` (0…100) in nanoseconds; 0 when empty.
    public func percentile(_ percentile: Double) -> UInt64 {
        count == 0 ? 0 : histogram.valueAtPercentile(percentile)
    }

    /// Median latency in nanoseconds.
    public var p50: UInt64 { percentile(50) }
    /// 99th percentile in nanoseconds.
    public var p99: UInt64 { percentile(99) }
    /// 99.9th percentile in nanoseconds.
    public var p999: UInt64 { percentile(99.9) }
    /// Largest recorded value in nanoseconds (to histogram precision); 0 when empty.
    public var max: UInt64 { count == 0 ? 0 : histogram.max }
    /// Smallest recorded value in nanoseconds; 0 when empty.
    public var min: UInt64 { count == 0 ? 0 : histogram.min }
    /// Mean latency in nanoseconds; 0 when empty.
    public var mean: Double { count == 0 ? 0 : histogram.mean }

    /// The usual latency figures in microseconds, keyed `"<prefix>p50_us"`, `p99_us`,
    /// `p999_us`, `max_us`, `mean_us`, plus `"<prefix>count"`: ready to merge into
    /// the figures an experiment returns from a run.
    public func figures(prefix: String = "") -> [String: Double] {
        [
            prefix + "p50_us": Double(p50) / 1000,
            prefix + "p99_us": Double(p99) / 1000,
            prefix + "p999_us": Double(p999) / 1000,
            prefix + "max_us": Double(max) / 1000,
            prefix + "mean_us": mean / 1000,
            prefix + "count": Double(count),
        ]
    }
}
