/// Summary statistics over small samples of run figures and per-worker counts.
///
/// The lab repeats every grid point a few times on small, noisy machines, so it
/// reports medians with their min–max spread rather than means. Fairness figures
/// (Jain's index, max/min) summarise how evenly work landed on workers.
public enum Statistics {
    /// The median of `values`, or `nil` when empty. Even counts average the two middle values.
    public static func median(_ values: [Double]) -> Double? {
        percentile(values, 50)
    }

    /// The `p`-th percentile (0…100) of `values` with linear interpolation between
    /// closest ranks (the "R-7" definition used by numpy and spreadsheets); `nil` when empty.
    public static func percentile(_ values: [Double], _ p: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let clamped = Swift.min(Swift.max(p, 0), 100)
        let rank = clamped / 100 * Double(sorted.count - 1)
        let lower = Int(rank.rounded(.down))
        let upper = Swift.min(lower + 1, sorted.count - 1)
        let fraction = rank - Double(lower)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
    }

    /// Several percentiles at once (sorting only once), in the order asked.
    public static func percentiles(_ values: [Double], _ ps: [Double]) -> [Double]? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        return ps.map { percentile(sorted, $0)! }
    }

    /// The smallest and largest value, or `nil` when empty.
    public static func spread(_ values: [Double]) -> ClosedRange<Double>? {
        guard let lo = values.min(), let hi = values.max() else { return nil }
        return lo...hi
    }

    /// The arithmetic mean, or `nil` when empty.
    public static func mean(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        return values.reduce(0, +) / Double(values.count)
    }

    /// The sample standard deviation (n − 1 denominator); 0 for a single value, `nil` when empty.
    public static func standardDeviation(_ values: [Double]) -> Double? {
        guard let m = mean(values) else { return nil }
        guard values.count > 1 else { return 0 }
        let ss = values.reduce(0) { $0 + ($1 - m) * ($1 - m) }
        return (ss / Double(values.count - 1)).squareRoot()
    }

    /// Coefficient of variation: standard deviation divided by the mean. `nil` when
    /// empty or when the mean is zero. Scale-free, so it compares noise across figures.
    public static func coefficientOfVariation(_ values: [Double]) -> Double? {
        guard let m = mean(values), m != 0, let sd = standardDeviation(values) else { return nil }
        return sd / abs(m)
    }

    /// Jain's fairness index (Σx)² / (n · Σx²): 1 when every worker got the same share,
    /// 1/n when one worker got everything. `nil` when empty; 1 when every value is zero
    /// (nobody was favoured).
    public static func jainFairness(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sum = values.reduce(0, +)
        let sumSquares = values.reduce(0) { $0 + $1 * $1 }
        guard sumSquares > 0 else { return 1 }
        return sum * sum / (Double(values.count) * sumSquares)
    }

    /// The largest value divided by the smallest: 1 for perfect balance. `nil` when empty;
    /// `+infinity` when some worker got nothing while another got something.
    public static func maxMinRatio(_ values: [Double]) -> Double? {
        guard let lo = values.min(), let hi = values.max() else { return nil }
        if lo == 0 { return hi == 0 ? 1 : .infinity }
        return hi / lo
    }

    /// Convenience overloads for integer counts (connections or requests per worker).
    public static func jainFairness<T: BinaryInteger>(_ values: [T]) -> Double? {
        jainFairness(values.map { Double($0) })
    }

    /// Max/min ratio of integer counts; see the `Double` overload.
    public static func maxMinRatio<T: BinaryInteger>(_ values: [T]) -> Double? {
        maxMinRatio(values.map { Double($0) })
    }
}

/// A difference of two levels that are each sampled several times (memory before and after
/// holding connections), with an uncertainty from the samples' scatter.
public struct MeasuredDifference: Sendable, Equatable {
    /// Median of the later samples minus median of the earlier ones.
    public var value: Double
    /// Twice the combined standard deviation of the two sample sets, and at least the
    /// instrument's resolution: a difference smaller than this is not told apart from noise.
    public var uncertainty: Double

    /// Compares `before` and `after` samples taken with an instrument of `resolution`.
    public init?(before: [Double], after: [Double], resolution: Double) {
        guard let b = Statistics.median(before), let a = Statistics.median(after),
              let sb = Statistics.standardDeviation(before), let sa = Statistics.standardDeviation(after) else { return nil }
        value = a - b
        uncertainty = max(resolution, 2 * (sb * sb + sa * sa).squareRoot())
    }

    /// True when the difference is larger than its uncertainty.
    public var isMeasurable: Bool { abs(value) > uncertainty }
}

/// The median and min–max spread of one figure over the repeated runs of a grid point.
///
/// This is what tables and charts show: the median as the value, the range as the
/// honesty bar around it.
public struct FigureSummary: Codable, Sendable, Equatable {
    /// The median over runs.
    public var median: Double
    /// The smallest value over runs.
    public var min: Double
    /// The largest value over runs.
    public var max: Double
    /// How many runs produced this figure.
    public var count: Int

    /// Build a summary directly.
    public init(median: Double, min: Double, max: Double, count: Int) {
        self.median = median
        self.min = min
        self.max = max
        self.count = count
    }

    /// Summarise `values`, ignoring non-finite ones; `nil` when nothing finite remains.
    public init?(_ values: [Double]) {
        let finite = values.filter { $0.isFinite }
        guard let m = Statistics.median(finite), let r = Statistics.spread(finite) else { return nil }
        self.init(median: m, min: r.lowerBound, max: r.upperBound, count: finite.count)
    }

    /// Half the min–max range relative to the median (0.05 = ±5 %); 0 when the median is 0.
    public var relativeSpread: Double {
        median == 0 ? 0 : (max - min) / 2 / abs(median)
    }
}
